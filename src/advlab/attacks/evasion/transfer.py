"""Transfer attack: craft on a surrogate (white-box) target, evaluate on the real one.

Papernot, McDaniel & Goodfellow, "Transferability in Machine Learning: from Phenomena to
Black-Box Attacks using Adversarial Samples", 2016 (https://arxiv.org/abs/1605.07277).
The victim is only queried for labels (once per point, by the base class's check), so this
works against label-only targets. The surrogate's own queries are not charged to the victim.
"""

from __future__ import annotations

from typing import Any

import torch

from advlab.access import Access
from advlab.attacks.evasion.base import EvasionAttack
from advlab.errors import ConfigError
from advlab.registry import get_attack, register_attack
from advlab.targets.base import Target
from advlab.vocab import DEFAULT_EPS


@register_attack
class Transfer(EvasionAttack):
    """Transfer attack.

    Args:
        surrogate: a target with gradient access (e.g. a model you trained or stole).
        attack: name of the white-box attack run on the surrogate (default ``pgd``).
        attack_params: its parameters (``eps``/``norm`` come from this attack).
    """

    name = "transfer"
    requires = Access.LABELS
    norms = ("linf", "l2", "l1")
    paper = "Papernot et al. 2016, arXiv:1605.07277"
    summary = "Craft adversarial examples on a surrogate model and send them to the target."
    link = "arXiv:1605.07277"
    flags = frozenset({"needs_surrogate", "randomized", "targeted"})

    fast_params = {"attack_params": {"steps": 5}}

    def __init__(
        self,
        *,
        surrogate: Target | None = None,
        attack: str = "pgd",
        attack_params: dict[str, Any] | None = None,
        norm: str = "linf",
        eps: float | None = DEFAULT_EPS,
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.surrogate = surrogate
        self.attack = attack
        self.attack_params = attack_params
        self.norm = norm
        self.eps = eps
        self.seed = seed
        self.batch_size = batch_size

    def _validate(self) -> None:
        super()._validate()
        if self.surrogate is None:
            raise ConfigError("transfer: a surrogate target is required (surrogate=...)")
        if self.attack == "transfer":
            raise ConfigError("transfer: the surrogate attack cannot itself be 'transfer'")

    def _perturb(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        eps: float | None,
        targeted: bool,
        generator: torch.Generator,
    ) -> torch.Tensor:
        assert self.surrogate is not None
        params = dict(self.attack_params or {})
        params.update(norm=self.norm, eps=eps, seed=self.seed)
        atk = get_attack(self.attack)(**params)
        res = atk.run(
            self.surrogate,
            x.to(self.surrogate.device),
            y.to(self.surrogate.device),
            targeted=targeted,
        )
        return res.x_adv.to(x.device)

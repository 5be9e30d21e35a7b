"""Extraction feeding evasion: adversarial examples crafted on a stolen copy, sent to the victim.

Papernot et al. 2017 (arXiv:1602.02697) and Juuti et al. 2019 (arXiv:1805.02628) measure
an extraction attack by the *transferability* of adversarial examples crafted on the stolen
surrogate. This attack runs a surrogate extraction (Knockoff by default), wraps the copy in
a white-box :class:`~advlab.targets.torch.TorchClassifier`, crafts untargeted PGD examples
on it (advlab's :class:`~advlab.attacks.evasion.pgd.PGD`) from the attacker's own inputs,
sends them to the victim (metered) and reports the transfer rate: the fraction of examples
that fool the surrogate and also change the victim's label. As a control, the same number
of random sign-noise points of the same size is scored too (unmetered).

Example:
    >>> res = TransferEvasion(eps=0.2).extract(target, x_pool, x_eval=x_test)
    >>> res.extra["transfer_rate"]
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from advlab.access import Access
from advlab.attacks.extraction.base import (
    Evaluator,
    ExtractionAttack,
    Stolen,
    oracle_labels,
)
from advlab.errors import ConfigError
from advlab.registry import get_attack, register_attack
from advlab.targets.base import Target
from advlab.vocab import DEFAULT_EPS

log = logging.getLogger(__name__)


@register_attack
class TransferEvasion(ExtractionAttack):
    """Steal a surrogate, craft PGD examples on it, report how many transfer to the victim.

    Args:
        extractor: name of the surrogate extraction attack (``knockoff``,
            ``jacobian_augmentation``, ``active_extraction``).
        extractor_params: its keyword arguments.
        n_adv: attacker inputs turned into adversarial examples (taken from the end of
            ``x``; the extractor uses the rest).
        eps / norm / steps: PGD settings on the surrogate (``eps`` defaults to
            :data:`advlab.vocab.DEFAULT_EPS`).
        seed: seed of the extractor, PGD and the noise control.
    """

    name = "transfer_evasion"
    requires = Access.LABELS
    paper = "Papernot et al. 2017, arXiv:1602.02697; Juuti et al. 2019, arXiv:1805.02628"
    summary = "Adversarial examples crafted on the stolen copy, sent to the victim."
    link = "arXiv:1602.02697"
    flags = frozenset({"needs_data", "needs_surrogate", "query_based", "randomized"})

    fast_params = {
        "extractor_params": {"query_budget": 300, "arch": "mlp", "epochs": 5},
        "n_adv": 30,
        "steps": 5,
    }

    def __init__(
        self,
        *,
        extractor: str = "knockoff",
        extractor_params: dict[str, Any] | None = None,
        n_adv: int = 200,
        eps: float = DEFAULT_EPS,
        norm: str = "linf",
        steps: int = 40,
        seed: int | None = 0,
    ) -> None:
        self.extractor = extractor
        self.extractor_params = extractor_params
        self.n_adv = n_adv
        self.eps = eps
        self.norm = norm
        self.steps = steps
        self.seed = seed

    def _validate(self) -> None:
        self._positive(eps=self.eps)
        if not isinstance(self.n_adv, int) or self.n_adv < 1:
            raise ConfigError("transfer_evasion: n_adv must be a positive integer")
        cls = get_attack(self.extractor)
        if getattr(cls, "family", "") != "extraction" or cls is TransferEvasion:
            raise ConfigError(
                f"transfer_evasion: {self.extractor!r} is not a surrogate extraction attack"
            )

    def _extract(
        self,
        target: Target,
        x: torch.Tensor | None,
        *,
        generator: torch.Generator,
        evaluate: Evaluator,
    ) -> Stolen:
        from advlab.attacks.evasion.pgd import PGD
        from advlab.targets.torch import TorchClassifier

        assert x is not None
        if len(x) <= self.n_adv:
            raise ConfigError(
                f"transfer_evasion: x has {len(x)} rows; need more than n_adv={self.n_adv} "
                "(the extractor queries the rest)"
            )
        params = dict(self.extractor_params or {})
        params.setdefault("seed", self.seed)
        inner = get_attack(self.extractor)(**params)
        inner._validate()
        stolen = inner._extract(target, x[: -self.n_adv], generator=generator, evaluate=evaluate)
        assert stolen.model is not None and isinstance(stolen.model, torch.nn.Module)
        surrogate = TorchClassifier(
            stolen.model,
            bounds=(target.lower, target.upper),
            input_shape=target.input_shape,
            num_classes=target.num_classes,
            device=target.device,
        )
        src = x[-self.n_adv :].float()
        pgd = PGD(norm=self.norm, eps=self.eps, steps=self.steps, seed=self.seed)
        adv = pgd.run(surrogate, src)  # untargeted against the surrogate's own labels
        x_adv = adv.x_adv.to(target.device)
        fooled_sur = adv.success.to(target.device)
        victim_adv = self._query_labels(target, x_adv.to(x.dtype))  # sent to the victim
        victim_clean = oracle_labels(target, src.to(x.dtype))  # experimenter's reference
        changed = victim_adv != victim_clean
        n_f = int(fooled_sur.sum())
        transfer = float((changed & fooled_sur).sum()) / n_f if n_f else 0.0
        g = torch.Generator().manual_seed(int(self.seed or 0) + 1)
        noise = torch.sign(torch.randn(src.shape, generator=g)).to(target.device) * self.eps
        ctrl = oracle_labels(target, target.clip(src + noise).to(x.dtype)) != victim_clean
        stolen.extra.update(
            transfer_rate=transfer,
            surrogate_success_rate=n_f / len(src),
            victim_error_rate_on_adv=float(changed.float().mean()),
            noise_control_rate=float(ctrl.float().mean()),
            eps=self.eps,
            norm=self.norm,
            n_adv=len(src),
            extractor=self.extractor,
        )
        return stolen

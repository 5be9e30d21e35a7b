"""AutoAttack-style ensemble evaluator.

Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
parameter-free attacks", ICML 2020 (https://arxiv.org/abs/2003.01690). The standard version
runs APGD-CE, APGD-T (targeted DLR over the top 9 classes), FAB-T (9 target classes) and
Square (5,000 queries) in turn, each only on the points still robust; robust accuracy is the
per-point worst case.

``version="standard"`` uses the paper's budgets (100 iterations each); ``"fast"`` cuts them
(APGD-CE 50, APGD-T 3 targets x 50, no FAB-T, Square 1,000) for quick checks; ``steps``,
``n_target_classes``, ``max_queries`` and ``fab`` override either.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from advlab.access import Access
from advlab.attacks.evasion.apgd import APGD, APGDT
from advlab.attacks.evasion.base import EvasionAttack
from advlab.attacks.evasion.fab import FAB
from advlab.errors import ConfigError
from advlab.registry import ATTACKS, register_attack
from advlab.targets.base import Target
from advlab.vocab import DEFAULT_EPS

log = logging.getLogger(__name__)


@register_attack
class AutoAttack(EvasionAttack):
    """The ensemble; each component attacks only the points the previous ones left robust.

    Args:
        version: ``standard`` | ``fast`` (see the module docstring).
        square: include Square (score-based; catches gradient masking).
        fab: include FAB-T; default ``None``: in ``standard``, not in ``fast``.
        steps / n_target_classes: override the version's APGD / FAB budgets.
        max_queries: override Square's queries per point.
    """

    name = "autoattack"
    requires = Access.GRADIENTS
    norms = ("linf", "l2")
    paper = "Croce & Hein 2020, arXiv:2003.01690"
    summary = "Ensemble of APGD-CE, APGD-T, FAB-T and Square; per-point worst case."
    link = "arXiv:2003.01690"
    flags = frozenset({"ensemble", "iterative", "randomized"})

    fast_params = {"version": "fast", "steps": 5, "n_target_classes": 2, "max_queries": 150}

    def __init__(
        self,
        *,
        norm: str = "linf",
        eps: float | None = DEFAULT_EPS,
        version: str = "standard",
        square: bool = True,
        fab: bool | None = None,
        steps: int | None = None,
        n_target_classes: int | None = None,
        max_queries: int | None = None,
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.norm = norm
        self.eps = eps
        self.version = version
        self.square = square
        self.fab = fab
        self.steps = steps
        self.n_target_classes = n_target_classes
        self.max_queries = max_queries
        self.seed = seed
        self.batch_size = batch_size

    def _validate(self) -> None:
        super()._validate()
        if self.version not in ("standard", "fast"):
            raise ConfigError(
                f"autoattack: version must be 'standard' or 'fast', got {self.version!r}"
            )

    def components(self) -> list[EvasionAttack]:
        """The attacks of the ensemble, in the order they run."""
        fast = self.version == "fast"
        steps = self.steps or (50 if fast else 100)
        n_targets = self.n_target_classes or (3 if fast else 9)
        queries = self.max_queries or (1000 if fast else 5000)
        common: dict[str, Any] = {
            "norm": self.norm,
            "eps": self.eps,
            "seed": self.seed,
            "batch_size": self.batch_size,
        }
        out: list[EvasionAttack] = [
            APGD(loss="ce", steps=steps, **common),
            APGDT(steps=steps, n_target_classes=n_targets, **common),
        ]
        if self.fab if self.fab is not None else not fast:
            out.append(FAB(steps=steps, n_target_classes=n_targets, **common))
        if self.square and "square" in ATTACKS:
            out.append(ATTACKS["square"](max_queries=queries, **common))
        return out

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
        out = x.clone()
        todo = torch.arange(len(x), device=x.device)
        for atk in self.components():
            if len(todo) == 0:
                break
            if target.num_classes < 4 and isinstance(atk, APGDT):
                continue
            cand = atk._perturb(
                target, x[todo], y[todo], eps=eps, targeted=False, generator=generator
            )
            cand = self._enforce(target, x[todo], cand, eps)
            broken = target.labels(cand) != y[todo]
            out[todo[broken]] = cand[broken]
            log.info("autoattack: %s broke %d of %d", atk.name, int(broken.sum()), len(todo))
            todo = todo[~broken]
        return out

"""Clean-label backdoor.

Turner, Tsipras & Madry, "Label-Consistent Backdoor Attacks", 2019
(https://arxiv.org/abs/1912.02771). Poisons are training points of the target class itself,
so their labels stay correct. To make the model rely on the trigger, each poison is first made
hard to classify by an adversarial perturbation (untargeted PGD within ``eps`` on a surrogate
model, advlab's :class:`~advlab.attacks.evasion.PGD`), then the trigger patch is stamped on it.
At test time the trigger moves inputs of other classes to the target class.

Example:
    >>> CleanLabel(budget=0.05, target_class=0, eps=0.3).poison(x, y, surrogate=target)
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from advlab.access import Access
from advlab.attacks.poisoning.backdoor import BadNets
from advlab.attacks.poisoning.base import PoisonedDataset, PoisoningAttack, apply_trigger
from advlab.errors import InputError
from advlab.registry import register_attack


@register_attack
class CleanLabel(PoisoningAttack):
    """Label-consistent backdoor: PGD-perturbed target-class points plus a patch trigger.

    Args:
        budget: fraction of the training set poisoned (taken from ``target_class``).
        target_class: the class of the poisons and of triggered test inputs.
        eps: L-inf radius of the adversarial perturbation (0 disables it).
        steps: PGD steps.
        patch_size / corner / pattern: the trigger (as :class:`BadNets`).
        seed: seeds the choice of poisons and PGD's random start.
    """

    name = "clean_label"
    requires = Access.GRADIENTS
    paper = "Turner et al. 2019, arXiv:1912.02771"
    summary = "Label-consistent backdoor: adversarially perturbed target-class points + trigger."
    link = "arXiv:1912.02771"
    flags = frozenset({"iterative", "randomized"})
    tags = frozenset({"modality:image"})

    fast_params = {"steps": 10}

    def __init__(
        self,
        *,
        budget: float = 0.05,
        target_class: int = 0,
        eps: float = 0.3,
        steps: int = 40,
        patch_size: int = 3,
        corner: str = "bottom_right",
        pattern: str = "checkerboard",
        seed: int | None = 0,
    ) -> None:
        self.budget = budget
        self.target_class = target_class
        self.eps = eps
        self.steps = steps
        self.patch_size = patch_size
        self.corner = corner
        self.pattern = pattern
        self.seed = seed

    def poison(  # type: ignore[override]
        self, x: Any, y: Any, *, surrogate: Any = None, bounds: tuple[float, float] = (0.0, 1.0)
    ) -> PoisonedDataset:
        """``surrogate``: a :class:`~advlab.targets.TorchClassifier` (or any GRADIENTS target)
        used to craft the adversarial perturbations; required when ``eps > 0``."""
        t0 = time.perf_counter()
        xa, ya = self._check_data(x, y, bounds)
        tc = self._check_class(self.target_class, ya)
        if self.eps:
            self._check_eps(self.eps, bounds)
        cand = np.flatnonzero(ya == tc)
        k = self._n_poison(len(ya), len(cand), f"class {tc}")
        idx = np.sort(self._rng().choice(cand, size=k, replace=False))
        xp = xa[idx]
        if self.eps:
            if surrogate is None:
                raise InputError(f"{self.name}: eps > 0 needs a surrogate target (TorchClassifier)")
            from advlab.attacks.evasion.pgd import PGD

            res = PGD(eps=float(self.eps), steps=self.steps, seed=self.seed).run(
                surrogate, xp, ya[idx]
            )
            xp = res.x_adv.numpy().astype(np.float32)
        trig = BadNets(
            patch_size=self.patch_size, corner=self.corner, pattern=self.pattern
        ).trigger(tuple(xa.shape[1:]), (float(bounds[0]), float(bounds[1])))
        x_out = xa.copy()
        x_out[idx] = np.clip(apply_trigger(xp, trig), bounds[0], bounds[1])
        return self._result(
            x=x_out,
            y=ya.copy(),
            indices=idx,
            budget=k / len(ya),
            eps=float(self.eps) if self.eps else None,
            trigger=trig,
            target_class=tc,
            mode="all_to_one",
            bounds=(float(bounds[0]), float(bounds[1])),
            info={"labels_changed": 0},
            seconds=time.perf_counter() - t0,
        )

"""Base class of poisoning attacks and the :class:`PoisonedDataset` they return.

A poisoning attack rewrites part of a training set. Its verb is
``poison(x, y, ...) -> PoisonedDataset``; the result carries the whole poisoned training set,
the indices of the rewritten points, the budget, eps, the trigger (backdoors) and the seed, and
round-trips through JSON like every :class:`~advlab.results.Result`.

Input checks shared by every attack (each raises :class:`~advlab.errors.InputError` /
:class:`~advlab.errors.ConfigError` naming what was wrong and what was expected): a budget
larger than the dataset, eps outside the data's bounds, a class that is not in the data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from advlab.access import Access
from advlab.attacks.base import Attack
from advlab.errors import ConfigError, InputError
from advlab.results import Result

log = logging.getLogger(__name__)


@dataclass
class PoisonedDataset(Result):
    """A poisoned training set.

    Attributes:
        x, y: the full training set after poisoning (float32 inputs, int64 labels).
        indices: positions in ``x`` of the poisoned points (sorted, int64).
        budget: the fraction of the training set that was poisoned.
        eps: L-inf bound of input perturbations (``None`` when inputs are not bounded,
            e.g. label flipping or a visible trigger).
        trigger: ``{"mask", "pattern", "alpha"}`` arrays of a backdoor trigger, else ``None``.
        target_class: the class the attacker wants (backdoor all-to-one / targeted attacks).
        mode: ``"all_to_one"`` | ``"all_to_all"`` for backdoors, ``"targeted"`` for
            targeted poisoning, ``"untargeted"`` for label flips.
        x_target: the target input(s) of a targeted attack (Witches' Brew, Poison Frogs).
        bounds: the data bounds the poisons respect.
        info: attack-specific diagnostics (e.g. the final gradient-matching loss).
    """

    type_name: ClassVar[str] = "poisoned_dataset"

    x: Any = None
    y: Any = None
    indices: Any = None
    budget: float = 0.0
    eps: float | None = None
    trigger: dict[str, Any] | None = None
    target_class: int | None = None
    mode: str = ""
    x_target: Any = None
    bounds: tuple[float, float] = (0.0, 1.0)
    info: dict[str, Any] = field(default_factory=dict)

    def _after_load(self) -> None:
        if isinstance(self.bounds, list):
            self.bounds = (float(self.bounds[0]), float(self.bounds[1]))

    @property
    def n_poison(self) -> int:
        return 0 if self.indices is None else len(self.indices)

    @property
    def poison_mask(self) -> np.ndarray:
        m = np.zeros(len(self.x), dtype=bool)
        m[np.asarray(self.indices, dtype=np.int64)] = True
        return m

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(
            n=0 if self.x is None else len(self.x),
            n_poison=self.n_poison,
            budget=self.budget,
            eps=self.eps,
            target_class=self.target_class,
            mode=self.mode,
        )
        return s


def as_float_array(x: Any, name: str = "x") -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim < 2:
        raise InputError(f"{name} must have shape (N, ...features), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError(f"{name} contains NaN or inf values")
    return arr


def as_label_array(y: Any, n: int) -> np.ndarray:
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    arr = np.asarray(y)
    if arr.ndim != 1 or len(arr) != n:
        raise InputError(f"y must be a 1-D array of {n} labels, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise InputError("y must hold integer class labels")
    return arr.astype(np.int64)


class PoisoningAttack(Attack):
    """Base of every poisoning attack.

    Subclass contract: keyword-only constructor arguments (all defaulted, stored as given),
    ``budget`` (a fraction in (0, 1] of the training set, or an integer count) and ``seed``;
    implement :meth:`poison`. Use :meth:`_check_data`, :meth:`_n_poison`, :meth:`_check_eps`
    and :meth:`_check_class` for validation.
    """

    family: ClassVar[str] = "poisoning"
    requires: ClassVar[Access] = Access.LABELS

    budget: float
    seed: int | None

    def poison(self, x: Any, y: Any, **kwargs: Any) -> PoisonedDataset:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------------ validation helpers
    def _check_data(
        self, x: Any, y: Any, bounds: tuple[float, float] = (0.0, 1.0)
    ) -> tuple[np.ndarray, np.ndarray]:
        xa = as_float_array(x)
        ya = as_label_array(y, len(xa))
        lo, hi = float(bounds[0]), float(bounds[1])
        if not lo < hi:
            raise InputError(f"bounds must satisfy lo < hi, got {bounds}")
        if len(xa) and (xa.min() < lo - 1e-6 or xa.max() > hi + 1e-6):
            raise InputError(
                f"x must lie in the data bounds [{lo}, {hi}], got values in "
                f"[{xa.min():.4g}, {xa.max():.4g}]"
            )
        if len(xa) == 0:
            raise InputError("the training set is empty")
        return xa, ya

    def _n_poison(self, n: int, available: int | None = None, what: str = "training set") -> int:
        """Number of poisons for a training set of ``n`` points (``available`` candidates)."""
        b = self.budget
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not b > 0:
            raise ConfigError(
                f"{self.name}: budget must be a fraction in (0, 1] or a positive count, got {b!r}"
            )
        k = int(b) if isinstance(b, int) or b > 1 else int(round(b * n))
        if isinstance(b, float) and b > 1 and not float(b).is_integer():
            raise ConfigError(f"{self.name}: budget {b} is neither a fraction <= 1 nor a count")
        if k > n:
            raise InputError(
                f"{self.name}: budget of {k} poisons is larger than the dataset ({n} points); "
                "expected a fraction in (0, 1] or a count <= the number of training points"
            )
        if available is not None and k > available:
            raise InputError(
                f"{self.name}: budget of {k} poisons is larger than the {available} "
                f"candidates in the {what}"
            )
        return max(k, 1)

    def _check_eps(self, eps: float | None, bounds: tuple[float, float]) -> None:
        if eps is None:
            return
        width = float(bounds[1]) - float(bounds[0])
        if not isinstance(eps, (int, float)) or not 0 < float(eps) <= width:
            raise ConfigError(
                f"{self.name}: eps must be in (0, {width:g}] (the width of the data bounds "
                f"[{bounds[0]:g}, {bounds[1]:g}]), got {eps!r}"
            )

    def _check_class(self, c: Any, y: np.ndarray, what: str = "target_class") -> int:
        present = np.unique(y)
        if c is None or int(c) not in set(present.tolist()):
            raise InputError(
                f"{self.name}: {what}={c!r} is not a class in the data; "
                f"classes present: {present.tolist()}"
            )
        return int(c)

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(0 if self.seed is None else int(self.seed))

    def _result(self, **kwargs: Any) -> PoisonedDataset:
        idx = np.sort(np.asarray(kwargs.pop("indices"), dtype=np.int64))
        return PoisonedDataset(
            attack=self.name,
            params=self.get_params(),
            seed=self.seed,
            indices=idx,
            **kwargs,
        )


# ---------------------------------------------------------------------- triggers
def make_trigger(mask: np.ndarray, pattern: np.ndarray, alpha: float = 1.0) -> dict[str, Any]:
    """A trigger: ``x' = (1 - alpha * mask) * x + alpha * mask * pattern``."""
    return {
        "mask": np.asarray(mask, dtype=np.float32),
        "pattern": np.asarray(pattern, dtype=np.float32),
        "alpha": float(alpha),
    }


def apply_trigger(x: np.ndarray, trigger: dict[str, Any]) -> np.ndarray:
    """Stamp ``trigger`` (see :func:`make_trigger`) on every input of ``x`` (numpy)."""
    m = np.asarray(trigger["mask"], dtype=np.float32) * float(trigger["alpha"])
    p = np.asarray(trigger["pattern"], dtype=np.float32)
    return ((1.0 - m) * x + m * p).astype(np.float32)

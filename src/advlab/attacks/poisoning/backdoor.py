"""Backdoor poisoning with a visible trigger: BadNets patches and blended triggers.

- BadNets: Gu, Dolan-Gavitt & Garg, "BadNets: Identifying Vulnerabilities in the Machine
  Learning Model Supply Chain", 2017 (https://arxiv.org/abs/1708.06733). A small patch (here a
  checkerboard in a corner) is stamped on a ``budget`` fraction of training inputs, relabelled
  to ``target_class`` (all-to-one) or to ``(y + 1) % C`` (all-to-all).
- Blended: Chen, Liu, Li, Lu & Song, "Targeted Backdoor Attacks on Deep Learning Systems Using
  Data Poisoning", 2017 (https://arxiv.org/abs/1712.05526). The trigger is a whole-input
  pattern (seeded uniform noise by default) mixed in with weight ``opacity``.

A trigger is ``x' = (1 - opacity * mask) * x + opacity * mask * pattern`` (see
:func:`~advlab.attacks.poisoning.base.apply_trigger`); the :class:`PoisonedDataset` carries it,
so the victim pipeline measures the attack success rate on triggered test inputs.

Example:
    >>> pds = BadNets(budget=0.05, target_class=0).poison(ds.x_train, ds.y_train)
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from advlab.attacks.poisoning.base import (
    PoisonedDataset,
    PoisoningAttack,
    apply_trigger,
    make_trigger,
)
from advlab.errors import ConfigError
from advlab.registry import register_attack
from advlab.vocab import renamed_params

MODES = ("all_to_one", "all_to_all")
CORNERS = ("bottom_right", "bottom_left", "top_right", "top_left")


class _Backdoor(PoisoningAttack):
    """Shared selection / relabelling of trigger-based backdoors."""

    mode: str
    target_class: int
    source_class: int | None

    def trigger(self, shape: tuple[int, ...], bounds: tuple[float, float]) -> dict[str, Any]:
        raise NotImplementedError

    def poison(  # type: ignore[override]
        self, x: Any, y: Any, *, bounds: tuple[float, float] = (0.0, 1.0)
    ) -> PoisonedDataset:
        """Stamp the trigger on a ``budget`` fraction of ``x`` and relabel those points."""
        t0 = time.perf_counter()
        if self.mode not in MODES:
            raise ConfigError(
                f"{self.name}: mode must be one of {', '.join(MODES)}, got {self.mode!r}"
            )
        xa, ya = self._check_data(x, y, bounds)
        num_classes = int(ya.max()) + 1
        if self.mode == "all_to_one":
            tc: int | None = self._check_class(self.target_class, ya)
            cand = np.flatnonzero(ya != tc)
        else:
            tc = None
            cand = np.arange(len(ya))
        src = None
        if self.source_class is not None:
            src = self._check_class(self.source_class, ya, "source_class")
            cand = cand[ya[cand] == src]
        k = self._n_poison(len(ya), len(cand), "candidate points")
        trig = self.trigger(tuple(xa.shape[1:]), (float(bounds[0]), float(bounds[1])))
        idx = np.sort(self._rng().choice(cand, size=k, replace=False))
        x_out, y_out = xa.copy(), ya.copy()
        x_out[idx] = np.clip(apply_trigger(xa[idx], trig), bounds[0], bounds[1])
        y_out[idx] = tc if tc is not None else (ya[idx] + 1) % num_classes
        return self._result(
            x=x_out,
            y=y_out,
            indices=idx,
            budget=k / len(ya),
            eps=None,
            trigger=trig,
            target_class=tc,
            mode=self.mode,
            bounds=(float(bounds[0]), float(bounds[1])),
            info={"source_class": src, "num_classes": num_classes},
            seconds=time.perf_counter() - t0,
        )


def patch_mask(shape: tuple[int, ...], size: int, corner: str, margin: int = 0) -> np.ndarray:
    """A ``size x size`` square mask in a corner of ``(C, H, W)`` images (the last ``size``
    features of flat inputs)."""
    mask = np.zeros(shape, dtype=np.float32)
    if len(shape) == 1:
        mask[shape[0] - size * size :] = 1.0
        return mask
    h, w = shape[-2], shape[-1]
    if size + margin > min(h, w):
        raise ConfigError(f"patch of size {size} (margin {margin}) does not fit {h}x{w} inputs")
    r0 = h - size - margin if corner.startswith("bottom") else margin
    c0 = w - size - margin if corner.endswith("right") else margin
    mask[..., r0 : r0 + size, c0 : c0 + size] = 1.0
    return mask


@register_attack
class BadNets(_Backdoor):
    """BadNets patch backdoor.

    Args:
        budget: fraction of the training set poisoned (or a count).
        target_class: the class triggered inputs go to (``all_to_one``).
        mode: ``all_to_one`` | ``all_to_all`` (label ``y -> (y + 1) % C``).
        patch_size: side of the square patch in pixels.
        corner: ``bottom_right`` | ``bottom_left`` | ``top_right`` | ``top_left``.
        pattern: ``checkerboard`` (alternating hi/lo) or ``solid`` (hi).
        source_class: poison only points of this class (``None``: any class).
        seed: seeds which points are poisoned.
    """

    name = "badnets"
    paper = "Gu et al. 2017, arXiv:1708.06733"
    summary = "Patch-trigger backdoor (BadNets), all-to-one or all-to-all."
    link = "arXiv:1708.06733"
    flags = frozenset({"randomized"})
    tags = frozenset({"modality:image"})
    suite_params = {"gradients": {}, "scores": {}, "labels": {}}

    def __init__(
        self,
        *,
        budget: float = 0.05,
        target_class: int = 0,
        mode: str = "all_to_one",
        patch_size: int = 3,
        corner: str = "bottom_right",
        pattern: str = "checkerboard",
        source_class: int | None = None,
        seed: int | None = 0,
    ) -> None:
        self.budget = budget
        self.target_class = target_class
        self.mode = mode
        self.patch_size = patch_size
        self.corner = corner
        self.pattern = pattern
        self.source_class = source_class
        self.seed = seed

    def trigger(self, shape: tuple[int, ...], bounds: tuple[float, float]) -> dict[str, Any]:
        if self.corner not in CORNERS:
            raise ConfigError(
                f"badnets: corner must be one of {', '.join(CORNERS)}, got {self.corner!r}"
            )
        if not isinstance(self.patch_size, int) or self.patch_size < 1:
            raise ConfigError(
                f"badnets: patch_size must be a positive integer, got {self.patch_size!r}"
            )
        mask = patch_mask(shape, self.patch_size, self.corner)
        lo, hi = bounds
        if self.pattern == "solid":
            pat = np.full(shape, hi, dtype=np.float32)
        elif self.pattern == "checkerboard":
            if len(shape) == 1:
                pat = np.where(np.arange(shape[0]) % 2 == 0, hi, lo).astype(np.float32)
            else:
                rr, cc = np.indices(shape[-2:])
                board = np.where((rr + cc) % 2 == 0, hi, lo).astype(np.float32)
                pat = np.broadcast_to(board, shape).copy()
        else:
            raise ConfigError(
                f"badnets: pattern must be 'checkerboard' or 'solid', got {self.pattern!r}"
            )
        return make_trigger(mask, pat * mask, 1.0)


@register_attack
class Blended(_Backdoor):
    """Blended-trigger backdoor (Chen et al. 2017).

    Args:
        budget: fraction of the training set poisoned (or a count).
        target_class / mode / source_class: as :class:`BadNets`.
        opacity: blend weight of the pattern, the paper's ``alpha`` (0 < opacity <= 1;
            deprecated alias ``alpha``).
        trigger_seed: seeds the uniform-noise pattern (the attacker's key).
        seed: seeds which points are poisoned.
    """

    name = "blended"
    paper = "Chen et al. 2017, arXiv:1712.05526"
    summary = "Blended whole-image trigger backdoor (noise pattern mixed in with weight alpha)."
    link = "arXiv:1712.05526"
    flags = frozenset({"randomized"})

    @renamed_params(alpha="opacity")
    def __init__(
        self,
        *,
        budget: float = 0.05,
        target_class: int = 0,
        mode: str = "all_to_one",
        opacity: float = 0.2,
        trigger_seed: int = 1234,
        source_class: int | None = None,
        seed: int | None = 0,
    ) -> None:
        self.budget = budget
        self.target_class = target_class
        self.mode = mode
        self.opacity = opacity
        self.trigger_seed = trigger_seed
        self.source_class = source_class
        self.seed = seed

    def trigger(self, shape: tuple[int, ...], bounds: tuple[float, float]) -> dict[str, Any]:
        if not 0 < float(self.opacity) <= 1:
            raise ConfigError(f"blended: opacity must be in (0, 1], got {self.opacity!r}")
        rng = np.random.default_rng(self.trigger_seed)
        pat = rng.uniform(bounds[0], bounds[1], size=shape).astype(np.float32)
        return make_trigger(np.ones(shape, dtype=np.float32), pat, float(self.opacity))

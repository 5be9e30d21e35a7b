"""Threshold rules of the poison detectors that never look at the poisons.

Every detector computes a per-point statistic (higher = more suspect) on the training data and,
when a clean held-out set is given, on that set. Three rules turn it into flags:

- ``default``: the detector's own rule (see each detector).
- ``clean``: flag a training point when its statistic exceeds the split-conformal
  ``(1 - fpr)`` quantile of the statistic on clean held-out points of its class (STRIP: of all
  clean points, as in Gao et al. 2019, who set the entropy threshold at a chosen false-rejection
  rate of clean inputs). With ``n`` clean points the threshold is their
  ``ceil((n + 1)(1 - fpr))``-th smallest value, so a fresh clean point exchangeable with them
  exceeds it with probability at most ``fpr`` (Vovk et al. 2005; Angelopoulos & Bates 2021,
  arXiv:2107.07511). A class with fewer than ``1 / fpr - 1`` clean points, where that order
  statistic does not exist, uses the threshold of all clean points pooled. When only some
  classes are eligible (Neural Cleanse scores only the points of the labels it flags), only
  their clean points are pooled, and with too few of them for the rate nothing is flagged.
- ``robust``: no held-out data; flag a point when the modified z-score of its statistic
  ``0.6745 (s - median) / MAD`` within its class exceeds 3.5 (Iglewicz & Hoaglin, "How to
  Detect and Handle Outliers", ASQC 1993). With ``MAD = 0`` (over half the class ties) the mean
  absolute deviation stands in (``(s - median) / (1.2533 MeanAD)``). It assumes the poisons are
  a minority of the class: a class that is mostly poisons moves the median itself.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from advlab.errors import ConfigError, InputError

log = logging.getLogger(__name__)

CALIBRATIONS = ("default", "clean", "robust")
ROBUST_Z = 3.5


@dataclass
class PoisonStatistic:
    """A detector's statistic on the training data (``scores``, higher = more suspect), the
    indices its default rule flags (``default``), and, when a clean held-out set was given,
    the statistic on it (``clean_scores``, labels ``y_clean``). ``eligible`` (optional) marks
    the training points any rule may flag (Neural Cleanse: the points of flagged labels)."""

    y: np.ndarray
    scores: np.ndarray
    default: np.ndarray
    clean_scores: np.ndarray | None = None
    y_clean: np.ndarray | None = None
    eligible: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)


def check_rule(calibration: str, fpr: float) -> None:
    """Raise :class:`ConfigError` for an unknown rule or a target rate outside (0, 1)."""
    if calibration not in CALIBRATIONS:
        raise ConfigError(f"calibration must be one of {CALIBRATIONS}, got {calibration!r}")
    if not 0 < float(fpr) < 1:
        raise ConfigError(f"fpr must be in (0, 1), got {fpr!r}")


def conformal_threshold(clean_scores: np.ndarray, fpr: float) -> float | None:
    """The ``ceil((n + 1)(1 - fpr))``-th smallest of ``n`` clean scores; ``None`` when
    ``n < 1 / fpr - 1`` (too few points for that rate)."""
    s = np.sort(np.asarray(clean_scores, dtype=np.float64))
    k = math.ceil((len(s) + 1) * (1 - float(fpr)) - 1e-9)
    if k > len(s) or k < 1:
        return None
    return float(s[k - 1])


def clean_flags(
    st: PoisonStatistic, fpr: float, *, per_class: bool = True
) -> tuple[np.ndarray, dict[str, float | None]]:
    """Indices flagged by the ``clean`` rule and the threshold used per class (``None``: no
    threshold keeps the rate, nothing flagged)."""
    if st.clean_scores is None or st.y_clean is None:
        raise InputError("the clean rule needs a clean held-out set: detect(..., clean=(x, y))")
    need = math.ceil(1 / fpr - 1)
    if len(st.clean_scores) < need:
        raise InputError(
            f"the clean rule at fpr={fpr} needs at least {need} clean points, "
            f"got {len(st.clean_scores)}"
        )
    groups = np.unique(st.y) if per_class else [None]
    pool = np.ones(len(st.clean_scores), dtype=bool)
    if st.eligible is not None and not st.eligible.any():
        return np.zeros(0, dtype=np.int64), {}
    if st.eligible is not None:
        # only the classes a rule may flag calibrate the pooled threshold: the statistic of an
        # ineligible class is not computed (Neural Cleanse scores it 0) and would drag it down
        groups = np.unique(st.y[st.eligible]) if per_class else [None]
        pool = np.isin(st.y_clean, np.unique(st.y[st.eligible]))
    pooled = conformal_threshold(st.clean_scores[pool], fpr)
    if pooled is None:
        # too few clean points of the eligible classes for this rate: no threshold keeps the
        # promised clean-removal rate, so nothing is flagged
        log.warning(
            "the clean rule at fpr=%s has %d clean points of the eligible classes (needs %d): "
            "nothing flagged",
            fpr,
            int(pool.sum()),
            need,
        )
        pooled = math.inf
    flag = np.zeros(len(st.scores), dtype=bool)
    thresholds: dict[str, float | None] = {}
    for c in groups:
        in_c = np.ones(len(st.y), bool) if c is None else st.y == c
        thr = pooled
        if c is not None:
            own = conformal_threshold(st.clean_scores[st.y_clean == c], fpr)
            thr = pooled if own is None else own
        thresholds["all" if c is None else str(int(c))] = None if math.isinf(thr) else thr
        flag |= in_c & (st.scores > thr)
    return _eligible(flag, st), thresholds


def modified_z(s: np.ndarray) -> np.ndarray:
    """``0.6745 (s - median) / MAD`` (mean absolute deviation when ``MAD = 0``); zeros when
    every value is equal."""
    s = np.asarray(s, dtype=np.float64)
    med = float(np.median(s))
    mad = float(np.median(np.abs(s - med)))
    if mad > 0:
        return 0.6745 * (s - med) / mad
    mean_ad = float(np.mean(np.abs(s - med)))
    if mean_ad > 0:
        return (s - med) / (1.253314 * mean_ad)
    return np.zeros_like(s)


def robust_flags(st: PoisonStatistic, *, per_class: bool = True) -> np.ndarray:
    """Indices whose modified z-score within their class (or overall) exceeds 3.5."""
    flag = np.zeros(len(st.scores), dtype=bool)
    elig = np.ones(len(st.scores), bool) if st.eligible is None else st.eligible
    groups = np.unique(st.y) if per_class else [None]
    for c in groups:
        idx = np.flatnonzero(elig if c is None else (st.y == c) & elig)
        if len(idx) >= 3:
            flag[idx] = modified_z(st.scores[idx]) > ROBUST_Z
    return np.flatnonzero(flag)


def _eligible(flag: np.ndarray, st: PoisonStatistic) -> np.ndarray:
    if st.eligible is not None:
        flag = flag & st.eligible
    return np.flatnonzero(flag)

"""Attack success rates with bootstrap confidence intervals, corrected for detector error.

A detector with sensitivity ``Se`` (recall on true hits) and specificity ``Sp`` observes
a hit rate ``p_obs = Se * p + (1 - Sp) * (1 - p)`` when the true success rate is ``p``;
inverting gives the Rogan-Gladen estimator (Rogan & Gladen, "Estimating prevalence from
the results of a screening test", Am. J. Epidemiol. 1978, doi:10.1093/oxfordjournals.aje.a112510)

    p = (p_obs + Sp - 1) / (Se + Sp - 1),   clipped to [0, 1],

which garak applies inside a percentile bootstrap (``garak.analyze.bootstrap_ci``).
:func:`success_rate` does the same, and optionally also propagates the uncertainty of
``Se`` and ``Sp`` themselves: given the detector's confusion counts on the labelled set it
draws them from their Beta posteriors (uniform priors) at each bootstrap iteration. When
``Se + Sp - 1`` is below 0.01 the detector is no better than chance and no correction is
made (the interval is then the uncorrected one, flagged). Intervals from fewer than
:data:`MIN_SAMPLES` attempts are given but flagged as unreliable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_SAMPLES = 30
"""Fewer attempts than this give an interval flagged ``small_sample``."""


def rogan_gladen(
    p_obs: float | np.ndarray, sensitivity: float | np.ndarray, specificity: float | np.ndarray
) -> Any:
    """The true rate behind an observed hit rate, clipped to [0, 1] (no correction when the
    detector is no better than chance)."""
    se = np.asarray(sensitivity, dtype=float)
    sp = np.asarray(specificity, dtype=float)
    denom = se + sp - 1.0
    safe = np.abs(denom) >= 0.01
    corrected = np.where(
        safe, (np.asarray(p_obs, dtype=float) + sp - 1.0) / np.where(safe, denom, 1.0), p_obs
    )
    return np.clip(corrected, 0.0, 1.0)


@dataclass(frozen=True)
class RateEstimate:
    """An attack success rate: observed, corrected, and the corrected interval."""

    n: int
    hits: int
    observed: float
    corrected: float
    low: float
    high: float
    confidence: float
    sensitivity: float
    specificity: float
    corrected_for_detector: bool
    small_sample: bool

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def success_rate(
    results: Sequence[bool],
    *,
    sensitivity: float = 1.0,
    specificity: float = 1.0,
    detector_counts: tuple[int, int, int, int] | None = None,
    iterations: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> RateEstimate:
    """The success rate of ``results`` (one bool per attempt: did the detector hit?).

    Args:
        results: the detector's verdicts.
        sensitivity / specificity: the detector's measured rates.
        detector_counts: ``(tp, fn, tn, fp)`` on the labelled set: when given, ``Se`` and
            ``Sp`` are drawn from Beta(tp+1, fn+1) and Beta(tn+1, fp+1) at each iteration.
        iterations / confidence / seed: the percentile bootstrap.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = np.asarray(list(results), dtype=float)
    n = int(x.size)
    if detector_counts is not None:
        tp, fn, tn, fp = detector_counts
        sensitivity = (tp + 1) / (tp + fn + 2)
        specificity = (tn + 1) / (tn + fp + 2)
    useful = abs(sensitivity + specificity - 1.0) >= 0.01
    if n == 0:
        return RateEstimate(
            0, 0, 0.0, 0.0, 0.0, 1.0, confidence, sensitivity, specificity, useful, True
        )
    rng = np.random.default_rng(seed)
    p_obs = float(x.mean())
    boot = x[rng.integers(0, n, size=(iterations, n))].mean(axis=1)
    if detector_counts is not None:
        tp, fn, tn, fp = detector_counts
        se = rng.beta(tp + 1, fn + 1, size=iterations)
        sp = rng.beta(tn + 1, fp + 1, size=iterations)
    else:
        se = np.full(iterations, sensitivity)
        sp = np.full(iterations, specificity)
    corrected = rogan_gladen(boot, se, sp) if useful else boot
    alpha = 1 - confidence
    low, high = np.percentile(corrected, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    point = float(rogan_gladen(p_obs, sensitivity, specificity)) if useful else p_obs
    return RateEstimate(
        n=n,
        hits=int(x.sum()),
        observed=p_obs,
        corrected=point,
        low=float(low),
        high=float(high),
        confidence=confidence,
        sensitivity=float(sensitivity),
        specificity=float(specificity),
        corrected_for_detector=useful,
        small_sample=n < MIN_SAMPLES,
    )

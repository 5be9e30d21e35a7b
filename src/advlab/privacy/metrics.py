"""Membership-inference metrics that hold up at low false-positive rates.

Carlini et al. 2022 ("Membership Inference Attacks From First Principles", arXiv:2112.03570)
argue for the true-positive rate at a low false-positive rate, read off a ROC curve on
log-log axes, instead of accuracy or AUC. This module computes, from per-example attack
scores (higher = more likely a member) and the ground-truth membership:

- the ROC curve (ties handled: one point per distinct score), the AUC;
- TPR at 10%, 1% and 0.1% FPR (conservative: the best TPR whose FPR does not exceed the
  target) with percentile bootstrap confidence intervals;
- balanced accuracy (best threshold), PPV at a chosen member prior;
- the differential-privacy lower bound on epsilon implied by (TPR, FPR): an (eps, delta)-DP
  training algorithm forces ``TPR <= e^eps * FPR + delta`` (Kairouz et al. 2015;
  Jagielski et al. 2020), so ``eps >= log((TPR - delta) / FPR)``;
- warnings when there are too few non-members to estimate the requested FPR, or when the
  member / non-member sets are unbalanced.

Everything is numpy; :func:`roc_svg` writes a log-log ROC plot as plain SVG (no matplotlib).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from advlab.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_FPRS: tuple[float, ...] = (0.1, 0.01, 0.001)


def _check(scores: Any, members: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    m = np.asarray(members).reshape(-1)
    if m.dtype != bool:
        if not np.isin(m, (0, 1)).all():
            raise InputError("members must be booleans or 0/1 values")
        m = m.astype(bool)
    if len(s) != len(m):
        raise InputError(
            f"{len(s)} scores but {len(m)} membership labels; expected the same length"
        )
    bad = np.flatnonzero(~np.isfinite(s))
    if len(bad):
        raise InputError(
            f"attack scores contain NaN/inf for {len(bad)} examples (indices {bad[:10].tolist()}); "
            "expected finite scores"
        )
    if m.all() or not m.any():
        raise InputError(
            f"need both members and non-members, got {int(m.sum())} members of {len(m)} examples"
        )
    return s, m


def roc_curve(scores: Any, members: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)``: one point per distinct score, from (0, 0) to (1, 1).

    A point ``k`` predicts "member" for every score ``>= thresholds[k]``; tied scores are
    never split.
    """
    s, m = _check(scores, members)
    order = np.argsort(-s, kind="mergesort")
    s, m = s[order], m[order]
    distinct = np.flatnonzero(np.diff(s)) if len(s) > 1 else np.array([], dtype=int)
    ends = np.r_[distinct, len(s) - 1]
    tp = np.cumsum(m)[ends]
    fp = np.cumsum(~m)[ends]
    tpr = np.r_[0.0, tp / m.sum()]
    fpr = np.r_[0.0, fp / (~m).sum()]
    thr = np.r_[np.inf, s[ends]]
    return fpr, tpr, thr


def auc(scores: Any, members: Any) -> float:
    """Area under the ROC curve (trapezoidal; ties count one half)."""
    f, t, _ = roc_curve(scores, members)
    return float(np.sum((f[1:] - f[:-1]) * (t[1:] + t[:-1]) / 2))


def tpr_at_fpr(scores: Any, members: Any, fpr: float) -> float:
    """The best TPR among thresholds whose FPR is at most ``fpr`` (no interpolation)."""
    f, t, _ = roc_curve(scores, members)
    ok = f <= fpr + 1e-12
    return float(t[ok].max())


def balanced_accuracy(scores: Any, members: Any) -> float:
    """Best balanced accuracy ``(TPR + 1 - FPR) / 2`` over thresholds (an optimistic figure)."""
    f, t, _ = roc_curve(scores, members)
    return float(((t + 1 - f) / 2).max())


def ppv(tpr: float, fpr: float, prior: float) -> float:
    """Precision of "member" predictions when a fraction ``prior`` of queries are members."""
    if not 0 < prior < 1:
        raise InputError(f"prior must be in (0, 1), got {prior}")
    num = prior * tpr
    den = num + (1 - prior) * fpr
    return float(num / den) if den > 0 else float("nan")


def epsilon_lower_bound(tpr: float, fpr: float, delta: float = 0.0) -> float:
    """The smallest epsilon consistent with an attack reaching ``(tpr, fpr)`` under (eps, delta)-DP.

    From ``TPR <= e^eps FPR + delta`` and ``1 - FPR <= e^eps (1 - TPR) + delta``. Returns 0
    when the point is consistent with eps = 0 and ``inf`` when only an infinite eps is.
    """
    cands = [0.0]
    for num, den in ((tpr - delta, fpr), (1 - fpr - delta, 1 - tpr)):
        if num <= 0:
            continue
        cands.append(math.inf if den <= 0 else math.log(num / den))
    return max(cands)


def dp_tpr_bound(fpr: Any, epsilon: float, delta: float) -> np.ndarray:
    """DP ceiling on TPR per FPR: ``min(1, e^eps FPR + delta, 1 - e^-eps (1 - FPR - delta))``."""
    f = np.asarray(fpr, dtype=np.float64)
    a = np.exp(epsilon) * f + delta
    b = 1 - np.exp(-epsilon) * (1 - f - delta)
    return np.clip(np.minimum(a, b), 0.0, 1.0)


def clopper_pearson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact binomial confidence interval for ``k`` successes in ``n`` trials."""
    from scipy.stats import beta

    lo = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def fpr_warning(n_nonmembers: int, fpr: float, min_false_positives: float = 5.0) -> str | None:
    """A message when ``n_nonmembers * fpr`` false positives are too few to estimate ``fpr``."""
    expected = n_nonmembers * fpr
    if expected < 1:
        return (
            f"TPR at {fpr:.3%} FPR cannot be estimated from {n_nonmembers} non-members "
            f"(not even one false positive is allowed; need >= {math.ceil(1 / fpr)})"
        )
    if expected < min_false_positives:
        return (
            f"TPR at {fpr:.3%} FPR rests on {int(expected)} false positive(s) among "
            f"{n_nonmembers} non-members; the estimate is noisy (want >= "
            f"{math.ceil(min_false_positives / fpr)} non-members)"
        )
    return None


@dataclass
class MembershipMetrics:
    """Summary of one attack's ROC: what a report needs, JSON-friendly."""

    n_members: int
    n_nonmembers: int
    auc: float
    balanced_accuracy: float
    tpr_at_fpr: dict[str, float]
    tpr_ci: dict[str, list[float]]
    ppv: dict[str, float]
    epsilon_lower_bound: dict[str, float]
    prior: float
    delta: float
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_members": self.n_members,
            "n_nonmembers": self.n_nonmembers,
            "auc": self.auc,
            "balanced_accuracy": self.balanced_accuracy,
            "tpr_at_fpr": dict(self.tpr_at_fpr),
            "tpr_ci": {k: list(v) for k, v in self.tpr_ci.items()},
            "ppv": dict(self.ppv),
            "epsilon_lower_bound": dict(self.epsilon_lower_bound),
            "prior": self.prior,
            "delta": self.delta,
            "warnings": list(self.warnings),
        }


def fpr_key(fpr: float) -> str:
    """``0.001 -> "0.1%"`` (the keys of :attr:`MembershipMetrics.tpr_at_fpr`)."""
    return f"{fpr * 100:g}%"


def bootstrap_tpr(
    scores: Any,
    members: Any,
    fprs: Sequence[float] = DEFAULT_FPRS,
    *,
    n_boot: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap CIs of TPR at each FPR (members and non-members resampled apart)."""
    s, m = _check(scores, members)
    pos, neg = s[m], s[~m]
    rng = np.random.default_rng(seed)
    draws = np.empty((n_boot, len(fprs)))
    for b in range(n_boot):
        sp = pos[rng.integers(0, len(pos), len(pos))]
        sn = neg[rng.integers(0, len(neg), len(neg))]
        ss = np.r_[sp, sn]
        mm = np.r_[np.ones(len(sp), bool), np.zeros(len(sn), bool)]
        f, t, _ = roc_curve(ss, mm)
        for j, fpr in enumerate(fprs):
            draws[b, j] = t[f <= fpr + 1e-12].max()
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
    return {fpr_key(f): (float(lo[j]), float(hi[j])) for j, f in enumerate(fprs)}


def membership_metrics(
    scores: Any,
    members: Any,
    *,
    fprs: Sequence[float] = DEFAULT_FPRS,
    prior: float = 0.5,
    delta: float = 1e-5,
    n_boot: int = 200,
    seed: int = 0,
    min_false_positives: float = 5.0,
) -> MembershipMetrics:
    """All metrics of one attack. Warnings are logged and kept in ``.warnings``."""
    s, m = _check(scores, members)
    n_pos, n_neg = int(m.sum()), int((~m).sum())
    warns: list[str] = []
    ratio = n_pos / n_neg
    if ratio > 2 or ratio < 0.5:
        warns.append(
            f"unbalanced evaluation set: {n_pos} members vs {n_neg} non-members; TPR/FPR are "
            "per-class rates and stay valid, accuracy-like figures do not (PPV uses prior "
            f"{prior})"
        )
    for fpr in fprs:
        w = fpr_warning(n_neg, fpr, min_false_positives)
        if w:
            warns.append(w)
    for w in warns:
        log.warning(w)
    f, t, _ = roc_curve(s, m)
    tprs = {fpr_key(x): float(t[f <= x + 1e-12].max()) for x in fprs}
    ci = bootstrap_tpr(s, m, fprs, n_boot=n_boot, seed=seed) if n_boot > 0 else {}
    ppvs: dict[str, float] = {}
    eps: dict[str, float] = {}
    for x in fprs:
        k = fpr_key(x)
        ok = f <= x + 1e-12
        i = int(np.flatnonzero(ok)[np.argmax(t[ok])])
        ppvs[k] = ppv(t[i], f[i], prior) if t[i] > 0 else float("nan")
        eps[k] = epsilon_lower_bound(float(t[i]), max(float(f[i]), 1.0 / n_neg), delta)
    area = float(np.sum((f[1:] - f[:-1]) * (t[1:] + t[:-1]) / 2))  # == auc(s, m)
    return MembershipMetrics(
        n_members=n_pos,
        n_nonmembers=n_neg,
        auc=area,
        balanced_accuracy=float(((t + 1 - f) / 2).max()),
        tpr_at_fpr=tprs,
        tpr_ci={k: [v[0], v[1]] for k, v in ci.items()},
        ppv=ppvs,
        epsilon_lower_bound=eps,
        prior=prior,
        delta=delta,
        warnings=warns,
    )


def empirical_epsilon(
    scores: Any,
    members: Any,
    *,
    delta: float = 1e-5,
    alpha: float = 0.05,
    simultaneous: bool = True,
) -> float:
    """A high-confidence lower bound on epsilon from the whole ROC curve.

    For each threshold, Clopper-Pearson bounds turn the observed counts into a pessimistic
    (low) TPR and a pessimistic (high) FPR; the largest epsilon they imply is returned.
    Taking the largest over ``K`` thresholds is a multiple comparison: with ``simultaneous``
    (the default) each threshold's intervals are at level ``alpha / K`` (Bonferroni), so the
    returned bound holds with probability ``1 - alpha`` although the threshold was chosen on
    the same data. Without it, each threshold is at level ``alpha`` and the maximum is
    optimistic (on a model with no signal it can report an epsilon near 1 with a few hundred
    examples).
    """
    from scipy.stats import beta

    s, m = _check(scores, members)
    n_pos, n_neg = int(m.sum()), int((~m).sum())
    f, t, _ = roc_curve(s, m)
    tp = np.round(t[1:] * n_pos).astype(int)
    fp = np.round(f[1:] * n_neg).astype(int)
    if simultaneous:
        alpha = alpha / max(len(tp), 1)
    # Clopper-Pearson: lower bound of TPR, upper bound of FPR (vectorised)
    t_lo = np.where(tp > 0, beta.ppf(alpha / 2, np.maximum(tp, 1), n_pos - tp + 1), 0.0)
    f_hi = np.where(fp < n_neg, beta.ppf(1 - alpha / 2, fp + 1, np.maximum(n_neg - fp, 1)), 1.0)
    best = 0.0
    for num, den in ((t_lo - delta, f_hi), (1 - f_hi - delta, 1 - t_lo)):
        ok = num > 0
        with np.errstate(divide="ignore"):
            vals = np.where(
                ok & (den > 0),
                np.log(np.where(ok, num, 1.0) / np.maximum(den, 1e-300)),
                np.where(ok, np.inf, 0.0),
            )
        if len(vals):
            best = max(best, float(vals.max()))
    return best


# --------------------------------------------------------------------------- plotting
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f")


def roc_points(scores: Any, members: Any, *, floor: float = 1e-5) -> list[tuple[float, float]]:
    """ROC points for a log-log plot (zeros lifted to ``floor``), thinned to <= ~400 points."""
    f, t, _ = roc_curve(scores, members)
    idx = np.unique(np.r_[0, np.geomspace(1, len(f) - 1, 400).astype(int), len(f) - 1])
    return [(max(float(f[i]), floor), max(float(t[i]), floor)) for i in idx]


def roc_svg(
    curves: Mapping[str, Sequence[tuple[float, float]]],
    path: str | Path | None = None,
    *,
    title: str = "ROC (log-log)",
    floor: float = 1e-4,
    dp_bound: tuple[float, float] | None = None,
) -> str:
    """A log-log ROC plot as SVG text (written to ``path`` when given).

    ``curves`` maps a name to ``(fpr, tpr)`` points (see :func:`roc_points`); ``dp_bound``
    ``(epsilon, delta)`` draws the DP ceiling ``e^eps FPR + delta`` as a dashed line.
    """
    w, h, pad = 480, 420, 56
    lo = math.log10(floor)

    def px(v: float) -> float:
        return pad + (math.log10(max(v, floor)) - lo) / -lo * (w - pad - 16)

    def py(v: float) -> float:
        return h - pad - (math.log10(max(v, floor)) - lo) / -lo * (h - pad - 28)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        'font-family="sans-serif" '
        'font-size="11">',
        f'<text x="{w / 2}" y="16" text-anchor="middle" font-size="13">{title}</text>',
        f'<rect x="{pad}" y="28" width="{w - pad - 16}" height="{h - pad - 28}" fill="none" '
        'stroke="#444"/>',
    ]
    for e in range(int(lo), 1):
        v = 10.0**e
        parts.append(
            f'<line x1="{px(v):.1f}" y1="28" x2="{px(v):.1f}" y2="{h - pad}" stroke="#ddd"/>'
        )
        parts.append(
            f'<line x1="{pad}" y1="{py(v):.1f}" x2="{w - 16}" y2="{py(v):.1f}" stroke="#ddd"/>'
        )
        parts.append(f'<text x="{px(v):.1f}" y="{h - pad + 14}" text-anchor="middle">1e{e}</text>')
        parts.append(f'<text x="{pad - 4}" y="{py(v) + 4:.1f}" text-anchor="end">1e{e}</text>')
    parts.append(f'<text x="{w / 2}" y="{h - 12}" text-anchor="middle">false positive rate</text>')
    parts.append(
        f'<text x="14" y="{h / 2}" text-anchor="middle" transform="rotate(-90 14 {h / 2})">'
        "true positive rate</text>"
    )
    diag = " ".join(f"{px(v):.1f},{py(v):.1f}" for v in (floor, 1.0))
    parts.append(f'<polyline points="{diag}" fill="none" stroke="#999" stroke-dasharray="2,3"/>')
    if dp_bound is not None:
        eps, delta = dp_bound
        xs = np.geomspace(floor, 1.0, 60)
        ys = dp_tpr_bound(xs, eps, delta)
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys, strict=True))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#000" stroke-dasharray="6,4"/>')
        parts.append(f'<text x="{pad + 6}" y="42">dashed: DP bound eps={eps:g}</text>')
    for k, (name, pts_) in enumerate(curves.items()):
        c = _COLORS[k % len(_COLORS)]
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts_)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="1.5"/>')
        parts.append(f'<text x="{w - 150}" y="{h - pad - 10 - 14 * k}" fill="{c}">{name}</text>')
    parts.append("</svg>")
    svg = "\n".join(parts)
    if path is not None:
        Path(path).write_text(svg)
    return svg

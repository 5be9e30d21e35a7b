"""RMIA: robust membership inference with population samples.

Zarifzadeh, Liu, Mohammadi & Shokri, "Low-Cost High-Power Membership Inference Attacks",
ICML 2024 (arXiv:2312.03262).

For a candidate ``x`` and population samples ``z`` (known non-members of the target),
``LR(x, z) = [Pr(x | theta) / Pr(x)] / [Pr(z | theta) / Pr(z)]`` where ``Pr(. | theta)`` is the
target's true-class probability (averaged over query augmentations) and ``Pr(.)`` is its
average over reference models. Score(x) = the fraction of ``z`` with ``LR(x, z) > gamma``.

- online: ``Pr(x)`` averages all reference models (IN and OUT, balanced);
- offline: only OUT models, with the linear correction ``Pr(x) = (1 + a)/2 Pr_OUT(x) +
  (1 - a)/2``; ``a`` is tuned on the reference models themselves (each in turn plays the
  target, the others the references) when ``a=None``.

The population is ``signals.population`` (a boolean mask over the signals' examples), else
every example. For one target and one population the fraction is a monotone function of
``Pr(x | theta) / Pr(x)``; ties between equal fractions are broken by that ratio.

Example:
    >>> RMIA(offline=True).infer(signals).tpr_at(0.001)
"""

from __future__ import annotations

import logging

import numpy as np

from advlab.attacks.inference.base import MembershipAttack
from advlab.attacks.inference.signals import Signals, true_class_prob
from advlab.errors import ConfigError
from advlab.registry import register_attack

log = logging.getLogger(__name__)


def _pr_x(p_ref: np.ndarray, ref_in: np.ndarray, offline: bool, a: float) -> np.ndarray:
    """``Pr(x)`` per example from reference probabilities ``(M, N)``."""
    if not offline:
        return p_ref.mean(axis=0)  # type: ignore[no-any-return]
    out = ~ref_in
    cnt = out.sum(axis=0)
    if (cnt == 0).any():
        bad = np.flatnonzero(cnt == 0)
        raise ConfigError(f"rmia offline: examples {bad[:10].tolist()} have no OUT reference model")
    pr_out = (p_ref * out).sum(axis=0) / cnt
    return (1 + a) / 2 * pr_out + (1 - a) / 2  # type: ignore[no-any-return]


def rmia_scores(
    p_target: np.ndarray,
    p_ref: np.ndarray,
    ref_in: np.ndarray,
    population: np.ndarray,
    *,
    offline: bool,
    a: float,
    gamma: float,
) -> np.ndarray:
    """RMIA scores from true-class probabilities: target ``(N,)``, references ``(M, N)``."""
    ratio = p_target / np.maximum(_pr_x(p_ref, ref_in, offline, a), 1e-300)
    rz = np.sort(ratio[population])
    frac = np.searchsorted(rz, ratio / gamma, side="left") / max(len(rz), 1)
    # tie-break inside one step of the fraction by the ratio itself (monotone, so consistent)
    tb = 0.5 * (1 + np.tanh(np.log(np.maximum(ratio, 1e-300)) / 4))
    return frac + tb / (len(rz) + 1)  # type: ignore[no-any-return]


def _auc(scores: np.ndarray, members: np.ndarray) -> float:
    from advlab.privacy.metrics import auc

    return auc(scores, members)


@register_attack
class RMIA(MembershipAttack):
    name = "rmia"
    paper = "Zarifzadeh et al. 2024, arXiv:2312.03262"
    summary = "Pairwise likelihood ratio of x against population samples z, via reference models."
    link = "arXiv:2312.03262"
    flags = frozenset({"needs_reference_models"})

    def __init__(
        self,
        *,
        offline: bool = False,
        a: float | None = None,
        gamma: float = 1.0,
        a_grid: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
        tune_models: int = 4,
    ) -> None:
        self.offline = offline
        self.a = a
        self.gamma = gamma
        self.a_grid = a_grid
        self.tune_models = tune_models

    def _probs(self, signals: Signals) -> tuple[np.ndarray, np.ndarray]:
        assert signals.ref_logits is not None
        p_t = true_class_prob(signals.target_logits, signals.labels).mean(axis=1)
        p_r = true_class_prob(signals.ref_logits, signals.labels).mean(axis=2)
        return p_t, p_r

    def tune_a(self, signals: Signals) -> float:
        """Pick ``a`` from ``a_grid`` by the mean AUC when reference models play the target."""
        signals.require_reference(self.name)
        assert signals.ref_in is not None
        _, p_r = self._probs(signals)
        m_total = p_r.shape[0]
        if m_total < 2:
            raise ConfigError("rmia: tuning a needs at least 2 reference models")
        pop = signals.population if signals.population is not None else np.ones(p_r.shape[1], bool)
        best, best_auc = 1.0, -1.0
        picks = list(range(min(self.tune_models, m_total)))
        for a in self.a_grid:
            aucs = []
            for m in picks:
                keep = np.arange(m_total) != m
                truth = signals.ref_in[m]
                if truth.all() or not truth.any():
                    continue
                z = pop & ~truth if (pop & ~truth).any() else ~truth
                s = rmia_scores(
                    p_r[m], p_r[keep], signals.ref_in[keep], z, offline=True, a=a, gamma=self.gamma
                )
                aucs.append(_auc(s, truth))
            if aucs and float(np.mean(aucs)) > best_auc:
                best, best_auc = float(a), float(np.mean(aucs))
        log.info("rmia: tuned a=%.2f (reference AUC %.4f)", best, best_auc)
        return best

    def score(self, signals: Signals) -> np.ndarray:
        signals.require_scores(self.name)
        signals.require_reference(self.name)
        assert signals.ref_in is not None
        if self.gamma <= 0:
            raise ConfigError(f"rmia: gamma must be > 0, got {self.gamma}")
        a = self.a
        if self.offline and a is None:
            a = self.tune_a(signals)
        p_t, p_r = self._probs(signals)
        pop = signals.population if signals.population is not None else np.ones(len(p_t), bool)
        if not pop.any():
            raise ConfigError("rmia: the population mask selects no example")
        return rmia_scores(
            p_t,
            p_r,
            signals.ref_in,
            pop,
            offline=self.offline,
            a=1.0 if a is None else float(a),
            gamma=self.gamma,
        )

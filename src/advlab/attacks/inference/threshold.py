"""Metric-threshold membership attacks: loss, confidence, entropy, modified entropy.

- Loss threshold: Yeom, Giacomelli, Fredrikson & Jha, "Privacy Risk in Machine Learning:
  Analyzing the Connection to Overfitting", CSF 2018 (arXiv:1709.01604). Members have a lower
  loss; the score is ``-CE(f(x), y)``.
- Confidence, entropy and modified entropy: Song & Mittal, "Systematic Evaluation of Privacy
  Risks of Machine Learning Models", USENIX Security 2021 (arXiv:2003.10595). Modified entropy
  ``Mentr(p, y) = -(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i)`` is low for members.

Scores are float64, computed from logits (log-probabilities for probability outputs); the
identity query (augmentation 0) is used unless ``average_augmentations``. The ROC sweeps
every threshold, so no threshold is fitted here.

Example:
    >>> LossThreshold().infer(signals).tpr_at(0.001)
"""

from __future__ import annotations

import numpy as np

from advlab.attacks.inference.base import MembershipAttack
from advlab.attacks.inference.signals import Signals, _gather, _logsumexp, cross_entropy, softmax
from advlab.registry import register_attack


def _reduce(v: np.ndarray, average: bool) -> np.ndarray:
    """``(N, A)`` -> ``(N,)``: the identity query, or the mean over augmentations."""
    return v.mean(axis=1) if average else v[:, 0]


class _ThresholdAttack(MembershipAttack):
    def __init__(self, *, average_augmentations: bool = False) -> None:
        self.average_augmentations = average_augmentations


@register_attack
class LossThreshold(_ThresholdAttack):
    name = "loss_threshold"
    paper = "Yeom et al. 2018, arXiv:1709.01604"
    summary = "Members have lower loss: score = -cross-entropy(f(x), y)."
    link = "arXiv:1709.01604"
    suite_params = {"gradients": {}, "scores": {}}

    def score(self, signals: Signals) -> np.ndarray:
        signals.require_scores(self.name)
        return -_reduce(
            cross_entropy(signals.target_logits, signals.labels), self.average_augmentations
        )


@register_attack
class ConfidenceThreshold(_ThresholdAttack):
    name = "confidence_threshold"
    paper = "Song & Mittal 2021, arXiv:2003.10595"
    summary = "Members get a higher true-class probability: score = p_y (in log space)."
    link = "arXiv:2003.10595"

    def score(self, signals: Signals) -> np.ndarray:
        signals.require_scores(self.name)
        # log(p_y / (1 - p_y)) keeps the ordering of p_y exact where p_y rounds to 1
        return _reduce(_log_conf(signals), self.average_augmentations)


def _log_conf(signals: Signals) -> np.ndarray:
    """``log p_y - log(1 - p_y)`` ranks exactly like ``p_y`` without saturating at 1."""
    true, others = _gather(signals.target_logits, signals.labels)
    return true - _logsumexp(others)


@register_attack
class EntropyThreshold(_ThresholdAttack):
    name = "entropy_threshold"
    paper = "Song & Mittal 2021, arXiv:2003.10595"
    summary = "Members get more confident (low-entropy) outputs: score = -H(softmax)."
    link = "arXiv:2003.10595"

    def score(self, signals: Signals) -> np.ndarray:
        signals.require_scores(self.name)
        z = np.asarray(signals.target_logits, dtype=np.float64)
        logp = z - _logsumexp(z)[..., None]
        p = np.exp(logp)
        ent = -(p * logp).sum(axis=-1)
        return -_reduce(ent, self.average_augmentations)


@register_attack
class ModifiedEntropyThreshold(_ThresholdAttack):
    name = "modified_entropy_threshold"
    paper = "Song & Mittal 2021, arXiv:2003.10595"
    summary = "Modified entropy uses the label: low for confident correct outputs (members)."
    link = "arXiv:2003.10595"

    def score(self, signals: Signals) -> np.ndarray:
        signals.require_scores(self.name)
        z = np.asarray(signals.target_logits, dtype=np.float64)
        logp = z - _logsumexp(z)[..., None]
        p = softmax(z)
        # log(1 - p_i) = logsumexp over j != i of log p_j: stable where p_i -> 1
        n_cls = z.shape[-1]
        log1m = np.empty_like(logp)
        for i in range(n_cls):
            rest = np.delete(logp, i, axis=-1)
            log1m[..., i] = _logsumexp(rest)
        y = signals.labels
        idx = np.broadcast_to(y[:, None, None], z.shape[:-1] + (1,))
        p_y = np.take_along_axis(p, idx, axis=-1)[..., 0]
        logp_y = np.take_along_axis(logp, idx, axis=-1)[..., 0]
        mask = np.ones_like(p, dtype=bool)
        np.put_along_axis(mask, idx, False, axis=-1)
        other = -(np.where(mask, p * log1m, 0.0)).sum(axis=-1)
        mentr = -(1 - p_y) * logp_y + other
        return -_reduce(mentr, self.average_augmentations)

"""Membership inference on a language model as a plugin: one per-text score, its ROC on
known members against non-members, read at low false-positive rates.

Scores of Carlini et al. 2021 ("Extracting Training Data from Large Language Models",
arXiv:2012.07805: loss, zlib, lower-case ratio, sliding window) and Shi et al. 2024
("Detecting Pretraining Data from Large Language Models", arXiv:2310.16789: Min-K% Prob),
computed by :func:`advlab.lm.scores.score_texts`; the metrics are advlab's
(:mod:`advlab.privacy.metrics`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from advlab.access import Access
from advlab.errors import ConfigError
from advlab.lm.attack import LMAttack, LMData, LMResult
from advlab.lm.plugins.extraction import SCORES
from advlab.lm.scores import score_texts
from advlab.lm.target import LMTarget
from advlab.privacy.metrics import auc, tpr_at_fpr
from advlab.registry import register_plugin


@register_plugin
class LMMembership(LMAttack):
    """AUC of ``score`` separating ``data.members`` from ``data.non_members`` (the baseline is
    a coin's 0.5), with the TPR at ``fpr`` and every other score's AUC in the details.

    Args:
        score: ``loss``, ``zlib``, ``min_k``, ``window`` or ``lowercase``.
        fpr: the false-positive rate the TPR is read at.
        seed: unused by the scores (they are deterministic); kept for the contract.
    """

    name: ClassVar[str] = "lm_membership"
    paper: ClassVar[str] = "Shi et al. 2024, Detecting Pretraining Data from Large Language Models, arXiv:2310.16789"  # fmt: skip
    summary: ClassVar[str] = "loss, zlib and Min-K% Prob membership scores of a language model"
    tags: ClassVar[frozenset[str]] = frozenset({"threat:inference"})
    requires: ClassVar[Access] = Access.SCORES
    fast_params: ClassVar[dict[str, object]] = {}

    def __init__(self, *, score: str = "min_k", fpr: float = 0.01, seed: int = 0) -> None:
        self.score = score
        self.fpr = fpr
        self.seed = seed

    def _validate(self) -> None:
        super()._validate()
        self._positive(fpr=self.fpr)
        if self.score not in SCORES:
            raise ConfigError(f"{self.name}: score must be one of {', '.join(SCORES)}")

    def _attack(self, target: LMTarget, data: LMData) -> LMResult:
        self._need("members", data.members)
        self._need("non_members", data.non_members)
        texts = list(data.members) + list(data.non_members)
        labels = np.r_[np.ones(len(data.members)), np.zeros(len(data.non_members))]
        scores = score_texts(target.model, target.tokenizer, texts)
        s = scores[self.score]
        return LMResult(
            metric="auc",
            value=auc(s, labels),
            baseline=0.5,
            details={
                "tpr_at_fpr": tpr_at_fpr(s, labels, self.fpr),
                "auc": {k: auc(v, labels) for k, v in scores.items()},
            },
        )

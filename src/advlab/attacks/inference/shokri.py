"""Learned membership attacks on shadow models: Shokri et al. 2017 and ML-Leaks.

- Shokri, Stronati, Song & Shmatikov, "Membership Inference Attacks against Machine Learning
  Models", IEEE S&P 2017 (arXiv:1610.05820): shadow models *trained like the target* (same
  architecture, training recipe and data distribution) provide labelled examples of how a
  model answers on its training data (IN) and on other data (OUT); one attack classifier per
  class learns to tell them apart from the prediction vector.
- Salem, Zhang, Humbert, Berrang, Fritz & Backes, "ML-Leaks: Model and Data Independent
  Membership Inference Attacks and Defenses on Machine Learning Models", NDSS 2019
  (arXiv:1806.01246), adversary 1: a single shadow model and one class-agnostic attack
  classifier on the top-3 sorted posteriors.

The shadow models are the reference models of :class:`~.signals.Signals` (train them with
:class:`~.signals.ReferenceModels` using the target's own trainer: the classic tutorial
mistake is shadow models trained differently from the target). The attack classifiers are
scikit-learn models fitted on those outputs; no target model is needed to score.

Example:
    >>> ShokriAttack(n_shadow=8).infer(signals).tpr_at(0.01)
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from advlab.attacks.inference.base import MembershipAttack
from advlab.attacks.inference.signals import Signals, softmax
from advlab.errors import ConfigError
from advlab.registry import register_attack

log = logging.getLogger(__name__)


def _classifier(kind: str, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "mlp":
        return make_pipeline(
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=(64,), max_iter=300, early_stopping=True, random_state=seed
            ),
        )
    if kind == "logreg":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if kind == "gbdt":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(random_state=seed)
    raise ConfigError(f"attack_model must be 'mlp', 'logreg' or 'gbdt', got {kind!r}")


def _fit_predict(
    kind: str, seed: int, xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray
) -> np.ndarray:
    if ytr.all() or not ytr.any():
        return np.full(len(xte), float(ytr.mean()))
    clf = _classifier(kind, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(xtr, ytr)
    return clf.predict_proba(xte)[:, 1]  # type: ignore[no-any-return]


def _log_probs(logits: np.ndarray) -> np.ndarray:
    return np.log(np.clip(softmax(logits), 1e-30, None))


def _shadow_ids(signals: Signals, n_shadow: int | None) -> np.ndarray:
    m = signals.n_models
    k = m if n_shadow is None else int(n_shadow)
    if not 1 <= k <= m:
        raise ConfigError(f"n_shadow must be in [1, {m}] (the number of shadow models), got {k}")
    return np.arange(k)


@register_attack
class ShokriAttack(MembershipAttack):
    name = "shokri"
    paper = "Shokri et al. 2017, arXiv:1610.05820"
    summary = "Per-class attack classifiers trained on shadow models' IN/OUT prediction vectors."
    link = "arXiv:1610.05820"
    flags = frozenset({"needs_reference_models", "randomized"})

    fast_params = {"attack_model": "logreg"}

    def __init__(
        self,
        *,
        n_shadow: int | None = None,
        attack_model: str = "mlp",
        per_class: bool = True,
        seed: int = 0,
    ) -> None:
        self.n_shadow = n_shadow
        self.attack_model = attack_model
        self.per_class = per_class
        self.seed = seed

    def score(self, signals: Signals) -> np.ndarray:
        """Shadows = the signals' reference models, queried on the same examples."""
        return self.score_transfer(signals, signals)

    def score_transfer(self, shadow: Signals, target: Signals) -> np.ndarray:
        """Fit on ``shadow``'s reference models (IN/OUT on ``shadow``'s examples), score
        ``target``'s examples from ``target.target_logits`` (disjoint shadow data, Shokri 2017)."""
        target.require_scores(self.name)
        shadow.require_scores(self.name)
        shadow.require_reference(self.name)
        assert shadow.ref_logits is not None and shadow.ref_in is not None
        ids = _shadow_ids(shadow, self.n_shadow)
        feats_s = _log_probs(shadow.ref_logits[ids, :, 0])  # (S, N, C)
        feats_t = _log_probs(target.target_logits[:, 0])  # (N', C)
        lab_s = np.broadcast_to(shadow.labels, feats_s.shape[:2])
        xs = feats_s.reshape(-1, feats_s.shape[-1])
        ys, cs = shadow.ref_in[ids].reshape(-1), lab_s.reshape(-1)
        if not self.per_class:
            onehot = np.eye(max(shadow.num_classes, target.num_classes))
            return _fit_predict(
                self.attack_model,
                self.seed,
                np.c_[xs, onehot[cs]],
                ys,
                np.c_[feats_t, onehot[target.labels]],
            )
        out = np.empty(target.n_examples)
        for c in np.unique(target.labels):
            tr, te = cs == c, target.labels == c
            if not tr.any():
                raise ConfigError(f"{self.name}: the shadow data has no example of class {c}")
            out[te] = _fit_predict(
                self.attack_model, self.seed + int(c), xs[tr], ys[tr], feats_t[te]
            )
        return out


@register_attack
class MLLeaks(MembershipAttack):
    name = "ml_leaks"
    paper = "Salem et al. 2019, arXiv:1806.01246"
    summary = "One shadow model, one attack classifier on the top-3 sorted posteriors."
    link = "arXiv:1806.01246"
    flags = frozenset({"needs_reference_models", "randomized"})

    def __init__(
        self, *, n_shadow: int = 1, top_k: int = 3, attack_model: str = "mlp", seed: int = 0
    ) -> None:
        self.n_shadow = n_shadow
        self.top_k = top_k
        self.attack_model = attack_model
        self.seed = seed

    def _features(self, logits: np.ndarray) -> np.ndarray:
        p = np.sort(softmax(logits), axis=-1)[..., ::-1][..., : self.top_k]
        return np.log(np.clip(p, 1e-30, None))

    def score(self, signals: Signals) -> np.ndarray:
        return self.score_transfer(signals, signals)

    def score_transfer(self, shadow: Signals, target: Signals) -> np.ndarray:
        """Fit on ``shadow``'s reference models, score ``target``'s examples."""
        target.require_scores(self.name)
        shadow.require_scores(self.name)
        shadow.require_reference(self.name)
        assert shadow.ref_logits is not None and shadow.ref_in is not None
        if not 1 <= self.top_k <= shadow.num_classes:
            raise ConfigError(f"top_k must be in [1, {shadow.num_classes}], got {self.top_k}")
        ids = _shadow_ids(shadow, self.n_shadow)
        xs = self._features(shadow.ref_logits[ids, :, 0]).reshape(-1, self.top_k)
        ys = shadow.ref_in[ids].reshape(-1)
        return _fit_predict(
            self.attack_model, self.seed, xs, ys, self._features(target.target_logits[:, 0])
        )

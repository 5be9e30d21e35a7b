"""Activation clustering.

Chen, Carvalho, Baracaldo, Ludwig, Edwards, Lee, Molloy & Srivastava, "Detecting Backdoor
Attacks on Deep Neural Networks by Activation Clustering", 2018
(https://arxiv.org/abs/1811.03728). Per class, reduce the penultimate activations with ICA/PCA
to a few dimensions, split them in two with k-means, and flag the smaller cluster when it is
small enough (relative size below ``size_threshold``) and well separated (silhouette above
``silhouette_threshold``): a backdoored class holds two populations.

The per-point statistic is the clustering margin ``d(z, big centroid) - d(z, small centroid)``
in the class's reduced space (positive: in the small cluster). Threshold rules
(``calibration``, see :mod:`advlab.defenses.poison.calibration`): ``default`` is the paper's
rule above; ``clean`` projects a clean held-out set with the class's PCA and flags training
points whose margin exceeds the conformal ``(1 - fpr)`` quantile of the class's clean margins;
``robust`` flags per-class modified z-scores of the margin above 3.5.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advlab.defenses.poison.base import PoisonDetector, representations
from advlab.defenses.poison.calibration import PoisonStatistic
from advlab.registry import register_defense


@register_defense
class ActivationClustering(PoisonDetector):
    """Two-means clustering of each class's activations; flag small, separated clusters.

    Args:
        n_components: dimensions kept by PCA before clustering (10 in the paper, with ICA).
        size_threshold: a cluster smaller than this fraction of its class is suspect (0.35
            in the paper; 0.45 here, since a 5% all-to-one budget on digits is a third of the
            target class).
        silhouette_threshold: minimum silhouette score for the split to count (0.4: on clean
            digits, classes with two writing styles, e.g. 1 and 9, reach about 0.33).
        layer: ``features`` (the convolutional trunk when the model has one: on 8x8 digits it
            separates BadNets poisons far better than the penultimate layer) or
            ``penultimate`` (the paper's choice).
        seed: seeds k-means.
        calibration: threshold rule, ``default`` (the small, separated cluster), ``clean``
            (the ``(1 - fpr)`` clean quantile of the margin per class; needs
            ``detect(..., clean=(x, y))``) or ``robust`` (modified z-score > 3.5 per class).
        fpr: target clean-removal rate of the ``clean`` rule (0.05: the most clean data a
            useful filter may remove in the benchmark's criterion; lower rates need at least
            ``1 / fpr - 1`` clean points per class).
    """

    name = "activation_clustering"
    paper = "Chen et al. 2018, arXiv:1811.03728"
    summary = "Per class, 2-means on reduced activations; flag the small well-separated cluster."
    link = "arXiv:1811.03728"
    flags = frozenset({"data_level", "randomized"})

    def __init__(
        self,
        *,
        n_components: int = 10,
        size_threshold: float = 0.45,
        silhouette_threshold: float = 0.4,
        layer: str = "features",
        seed: int = 0,
        calibration: str = "default",
        fpr: float = 0.05,
    ) -> None:
        self.n_components = n_components
        self.size_threshold = size_threshold
        self.silhouette_threshold = silhouette_threshold
        self.layer = layer
        self.seed = seed
        self.calibration = calibration
        self.fpr = fpr

    def statistic(self, x: Any, y: Any, *, model: Any = None, clean: Any = None) -> PoisonStatistic:
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA
        from sklearn.metrics import silhouette_score

        xa, ya, xc, yc = self._inputs(x, y, model, clean)
        reps = representations(model, xa, layer=self.layer)
        rc = None if xc is None else representations(model, xc, layer=self.layer)
        scores = np.zeros(len(xa))
        cscores = None if yc is None else np.zeros(len(yc))
        flagged: list[np.ndarray] = []
        per_class: dict[str, Any] = {}
        for c in np.unique(ya):
            idx = np.flatnonzero(ya == c)
            if len(idx) < 4:
                continue
            mean = reps[idx].mean(0)
            k = min(int(self.n_components), reps.shape[1], len(idx) - 1)
            pca = PCA(n_components=k, random_state=self.seed).fit(reps[idx] - mean)
            z = pca.transform(reps[idx] - mean)
            km = KMeans(n_clusters=2, n_init=10, random_state=self.seed).fit(z)
            lab = km.labels_
            sizes = np.bincount(lab, minlength=2)
            small = int(np.argmin(sizes))
            rel = sizes[small] / len(idx)
            sil = float(silhouette_score(z, lab)) if len(set(lab)) > 1 else 0.0
            per_class[str(int(c))] = {"relative_size": float(rel), "silhouette": sil}
            centres = km.cluster_centers_
            scores[idx] = _margin(z, centres, small)
            if rc is not None and cscores is not None:
                cidx = np.flatnonzero(yc == c)
                if len(cidx):
                    cscores[cidx] = _margin(pca.transform(rc[cidx] - mean), centres, small)
            if rel < self.size_threshold and sil > self.silhouette_threshold:
                flagged.append(idx[lab == small])
        flags = np.concatenate(flagged) if flagged else np.zeros(0, dtype=np.int64)
        return PoisonStatistic(ya, scores, flags, cscores, yc, info={"per_class": per_class})


def _margin(z: np.ndarray, centres: np.ndarray, small: int) -> np.ndarray:
    """``d(z, big centroid) - d(z, small centroid)``: positive in the small cluster."""
    d = np.linalg.norm(z[:, None, :] - centres[None], axis=2)
    return np.asarray(d[:, 1 - small] - d[:, small], dtype=np.float64)

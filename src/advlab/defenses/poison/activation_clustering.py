"""Activation clustering.

Chen, Carvalho, Baracaldo, Ludwig, Edwards, Lee, Molloy & Srivastava, "Detecting Backdoor
Attacks on Deep Neural Networks by Activation Clustering", 2018
(https://arxiv.org/abs/1811.03728). Per class, reduce the penultimate activations with ICA/PCA
to a few dimensions, split them in two with k-means, and flag the smaller cluster when it is
small enough (relative size below ``size_threshold``) and well separated (silhouette above
``silhouette_threshold``): a backdoored class holds two populations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advlab.defenses.poison.base import Detection, PoisonDetector, representations
from advlab.errors import InputError
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
    ) -> None:
        self.n_components = n_components
        self.size_threshold = size_threshold
        self.silhouette_threshold = silhouette_threshold
        self.layer = layer
        self.seed = seed

    def detect(self, x: Any, y: Any, *, model: Any = None, poison_indices: Any = None) -> Detection:
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA
        from sklearn.metrics import silhouette_score

        if model is None:
            raise InputError(
                "activation_clustering needs the model trained on the data (model=...)"
            )
        xa, ya = self._data(x, y)
        reps = representations(model, xa, layer=self.layer)
        scores = np.zeros(len(xa))
        flagged: list[np.ndarray] = []
        per_class: dict[str, Any] = {}
        for c in np.unique(ya):
            idx = np.flatnonzero(ya == c)
            if len(idx) < 4:
                continue
            r = reps[idx] - reps[idx].mean(0)
            k = min(int(self.n_components), r.shape[1], len(idx) - 1)
            z = PCA(n_components=k, random_state=self.seed).fit_transform(r)
            lab = KMeans(n_clusters=2, n_init=10, random_state=self.seed).fit_predict(z)
            sizes = np.bincount(lab, minlength=2)
            small = int(np.argmin(sizes))
            rel = sizes[small] / len(idx)
            sil = float(silhouette_score(z, lab)) if len(set(lab)) > 1 else 0.0
            per_class[str(int(c))] = {"relative_size": float(rel), "silhouette": sil}
            scores[idx[lab == small]] = sil * (1 - rel)
            if rel < self.size_threshold and sil > self.silhouette_threshold:
                flagged.append(idx[lab == small])
        flags = np.concatenate(flagged) if flagged else np.zeros(0, dtype=np.int64)
        return self._finish(flags, scores, len(xa), poison_indices, per_class=per_class)

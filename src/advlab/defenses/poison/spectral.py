"""Spectral signatures.

Tran, Li & Madry, "Spectral Signatures in Backdoor Attacks", NeurIPS 2018
(https://arxiv.org/abs/1811.00636). Per class, centre the penultimate representations,
project them on the top right singular vector; backdoor poisons have large projections.
``scope="per_class"`` (the paper): remove the ``removal_factor x expected_fraction`` (1.5 x in
the paper) of each class with the largest scores, ``expected_fraction`` being the poisoned
fraction of a class. ``scope="global"`` (default): ``expected_fraction`` is the poisoned
fraction of the whole training set (the attacker's budget, what a defender can bound), scores
are divided by their class median so classes compare, and the top
``removal_factor x expected_fraction x N`` points are removed: an all-to-one backdoor puts every
poison in one class, where it is a much larger fraction than the budget.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advlab.defenses.poison.base import Detection, PoisonDetector, representations
from advlab.errors import ConfigError, InputError
from advlab.registry import register_defense


@register_defense
class SpectralSignatures(PoisonDetector):
    """Flag the points with the largest projections on each class's top singular vector.

    Args:
        expected_fraction: the poisoned fraction the defender assumes (per class, an upper
            bound: e.g. the budget).
        removal_factor: remove ``removal_factor * expected_fraction`` of the points.
        scope: ``global`` (fraction of the training set) or ``per_class`` (of each class).
        layer: ``features`` (the convolutional trunk when the model has one: on 8x8 digits it
            separates BadNets poisons far better than the penultimate layer) or
            ``penultimate`` (the paper's choice).
    """

    name = "spectral_signatures"
    paper = "Tran et al. 2018, arXiv:1811.00636"
    summary = "Remove points with outlying projections on each class's top singular vector."
    link = "arXiv:1811.00636"
    flags = frozenset({"data_level"})

    def __init__(
        self,
        *,
        expected_fraction: float = 0.05,
        removal_factor: float = 1.5,
        scope: str = "global",
        layer: str = "features",
    ) -> None:
        self.expected_fraction = expected_fraction
        self.removal_factor = removal_factor
        self.scope = scope
        self.layer = layer

    def detect(self, x: Any, y: Any, *, model: Any = None, poison_indices: Any = None) -> Detection:
        """``model``: the network trained on the (poisoned) data; it must have ``embed``."""
        if not 0 < float(self.expected_fraction) < 1:
            raise ConfigError(
                f"expected_fraction must be in (0, 1), got {self.expected_fraction!r}"
            )
        if self.scope not in ("global", "per_class"):
            raise ConfigError(f"scope must be 'global' or 'per_class', got {self.scope!r}")
        if model is None:
            raise InputError("spectral_signatures needs the model trained on the data (model=...)")
        xa, ya = self._data(x, y)
        reps = representations(model, xa, layer=self.layer)
        scores = np.zeros(len(xa))
        flagged: list[np.ndarray] = []
        frac = min(float(self.removal_factor) * float(self.expected_fraction), 1.0)
        for c in np.unique(ya):
            idx = np.flatnonzero(ya == c)
            r = reps[idx] - reps[idx].mean(0)
            if len(idx) < 2:
                continue
            _, _, vt = np.linalg.svd(r, full_matrices=False)
            s = np.abs(r @ vt[0])
            if self.scope == "global":
                s = s / max(float(np.median(s)), 1e-12)
            scores[idx] = s
            if self.scope == "per_class":
                k = int(np.ceil(frac * len(idx)))
                flagged.append(idx[np.argsort(-s, kind="stable")[:k]])
        if self.scope == "global":
            k = int(np.ceil(frac * len(xa)))
            flagged.append(np.argsort(-scores, kind="stable")[:k])
        flags = np.concatenate(flagged) if flagged else np.zeros(0, dtype=np.int64)
        return self._finish(flags, scores, len(xa), poison_indices)

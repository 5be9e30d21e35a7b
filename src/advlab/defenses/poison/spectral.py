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

Threshold rules (``calibration``, see :mod:`advlab.defenses.poison.calibration`): ``default``
is the removal rule above (it assumes a budget); ``clean`` projects a clean held-out set on the
same per-class direction and centre (fit on the training data, without labels of poisons) and
flags training points above the conformal ``(1 - fpr)`` quantile of their class's clean scores;
``robust`` flags per-class modified z-scores of the score above 3.5.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advlab.defenses.poison.base import PoisonDetector, representations
from advlab.defenses.poison.calibration import PoisonStatistic
from advlab.errors import ConfigError
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
        calibration: threshold rule, ``default`` (remove ``removal_factor *
            expected_fraction``), ``clean`` (the ``(1 - fpr)`` clean quantile per class; needs
            ``detect(..., clean=(x, y))``) or ``robust`` (modified z-score > 3.5 per class).
        fpr: target clean-removal rate of the ``clean`` rule (0.05: the most clean data a
            useful filter may remove in the benchmark's criterion; lower rates need at least
            ``1 / fpr - 1`` clean points per class).
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
        calibration: str = "default",
        fpr: float = 0.05,
    ) -> None:
        self.expected_fraction = expected_fraction
        self.removal_factor = removal_factor
        self.scope = scope
        self.layer = layer
        self.calibration = calibration
        self.fpr = fpr

    def statistic(self, x: Any, y: Any, *, model: Any = None, clean: Any = None) -> PoisonStatistic:
        """``model``: the network trained on the (poisoned) data; it must have ``embed``."""
        if not 0 < float(self.expected_fraction) < 1:
            raise ConfigError(
                f"expected_fraction must be in (0, 1), got {self.expected_fraction!r}"
            )
        if self.scope not in ("global", "per_class"):
            raise ConfigError(f"scope must be 'global' or 'per_class', got {self.scope!r}")
        xa, ya, xc, yc = self._inputs(x, y, model, clean)
        reps = representations(model, xa, layer=self.layer)
        rc = None if xc is None else representations(model, xc, layer=self.layer)
        scores = np.zeros(len(xa))
        cscores = None if yc is None else np.zeros(len(yc))
        flagged: list[np.ndarray] = []
        frac = min(float(self.removal_factor) * float(self.expected_fraction), 1.0)
        for c in np.unique(ya):
            idx = np.flatnonzero(ya == c)
            mean = reps[idx].mean(0)
            r = reps[idx] - mean
            if len(idx) < 2:
                continue
            _, _, vt = np.linalg.svd(r, full_matrices=False)
            s = np.abs(r @ vt[0])
            norm = max(float(np.median(s)), 1e-12) if self.scope == "global" else 1.0
            scores[idx] = s / norm
            if rc is not None and cscores is not None:
                cidx = np.flatnonzero(yc == c)
                cscores[cidx] = np.abs((rc[cidx] - mean) @ vt[0]) / norm
            if self.scope == "per_class":
                k = int(np.ceil(frac * len(idx)))
                flagged.append(idx[np.argsort(-s, kind="stable")[:k]])
        if self.scope == "global":
            k = int(np.ceil(frac * len(xa)))
            flagged.append(np.argsort(-scores, kind="stable")[:k])
        flags = np.concatenate(flagged) if flagged else np.zeros(0, dtype=np.int64)
        return PoisonStatistic(ya, scores, flags, cscores, yc)

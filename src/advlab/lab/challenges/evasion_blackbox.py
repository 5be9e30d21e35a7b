"""Evasion, black box: misclassify digits with score queries only, under a query budget.

Background: Andriushchenko et al., "Square Attack: a query-efficient black-box adversarial
attack via random search", ECCV 2020, arXiv:1912.00049.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advlab.lab import victims
from advlab.lab.evasion import EvasionChallenge, correct_points
from advlab.registry import register_plugin


@register_plugin
class EvasionBlackbox(EvasionChallenge):
    name = "evasion_blackbox"
    paper = "Andriushchenko et al. 2020, arXiv:1912.00049"
    summary = "Make a hidden digits CNN misclassify 10 digits using only 3,000 score queries."
    tags = frozenset({"threat:evasion", "access:scores", "norm:linf", "modality:image"})
    module = 1
    tier = "medium"
    budget = 3000
    access = "scores"
    threat_model = (
        "Goal: untargeted evasion at test time. Knowledge: black box: the inputs are 8x8 "
        "digits in [0, 1] and the model is some CNN; no weights. Access: class probabilities "
        "from the predict endpoint, 3,000 queries in total (one per point sent). Constraint: "
        "L-inf eps = 0.2 around each point, inside [0, 1]."
    )
    task = (
        "Submit the 10 adversarial points, shape (10, 1, 8, 8) float32 (.npy, .npz with x or "
        "JSON). Solved when at least 80% are misclassified by the hidden model."
    )
    eps = 0.2
    n_points = 10
    threshold = 0.8

    def _build(self) -> Any:
        bundle = victims.digits_cnn(seed=1, epochs=6)
        points = correct_points(bundle.model, self.n_points, start=100)
        return {"bundle": bundle, "target": bundle.target(device="cpu"), **points}

    def _target(self) -> Any:
        return self.state()["target"]

    def graded_labels(self, x: np.ndarray) -> np.ndarray:
        return victims.predict(self.state()["bundle"].model, x)

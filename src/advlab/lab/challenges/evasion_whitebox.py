"""Evasion, white box: misclassify digits inside an L-inf ball with the model in hand.

Background: Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks",
ICLR 2018, arXiv:1706.06083 (PGD).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advlab.lab import victims
from advlab.lab.evasion import EvasionChallenge, correct_points
from advlab.registry import register_plugin


@register_plugin
class EvasionWhitebox(EvasionChallenge):
    name = "evasion_whitebox"
    paper = "Madry et al. 2018, arXiv:1706.06083"
    summary = "Make a digits CNN misclassify 20 digits inside an L-inf ball; you have its weights."
    tags = frozenset({"threat:evasion", "access:gradients", "norm:linf", "modality:image"})
    module = 1
    tier = "easy"
    threat_model = (
        "Goal: untargeted evasion at test time. Knowledge: white box (architecture and weights "
        "are the downloadable model.safetensors + model.json). Access: gradients (you run the "
        "model yourself). Constraint: each adversarial point stays within L-inf distance "
        "eps = 0.2 of its original and inside the data range [0, 1]."
    )
    task = (
        "Submit the 20 adversarial points as one float32 array of shape (20, 1, 8, 8) (.npy, or "
        ".npz with x, or a JSON list). Solved when at least 90% are misclassified."
    )
    eps = 0.2
    n_points = 20
    threshold = 0.9

    def _build(self) -> Any:
        bundle = victims.digits_cnn(seed=0)
        return {"bundle": bundle, **correct_points(bundle.model, self.n_points)}

    def graded_labels(self, x: np.ndarray) -> np.ndarray:
        return victims.predict(self.state()["bundle"].model, x)

    def files(self) -> dict[str, bytes]:
        return victims.bundle_files(self.state()["bundle"])

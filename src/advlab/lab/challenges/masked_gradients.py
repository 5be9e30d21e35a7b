"""Gradient masking: a bit-depth "defense" stops PGD, not the adversary.

Background: Athalye et al., "Obfuscated Gradients Give a False Sense of Security:
Circumventing Defenses to Adversarial Examples", ICML 2018, arXiv:1802.00420 (BPDA).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advlab.lab import victims
from advlab.lab.evasion import EvasionChallenge, correct_points
from advlab.registry import register_plugin

LEVELS = 4
"""The defense rounds every pixel to one of 4 values: 0, 1/3, 2/3, 1."""


def squeeze(x: np.ndarray) -> np.ndarray:
    return np.round(x * (LEVELS - 1)) / (LEVELS - 1)  # type: ignore[no-any-return]


@register_plugin
class MaskedGradients(EvasionChallenge):
    name = "masked_gradients"
    paper = "Athalye et al. 2018, arXiv:1802.00420"
    summary = "Break a bit-depth-reduced digits CNN whose gradients are zero: PGD alone fails."
    tags = frozenset({"threat:evasion", "access:gradients", "norm:linf", "modality:image"})
    module = 3
    tier = "medium"
    threat_model = (
        "Goal: untargeted evasion of a defended model, i.e. an honest evaluation of the "
        "defense. Knowledge: white box: the CNN (model.safetensors + model.json) and the "
        "defense, which rounds every pixel to 4 levels (0, 1/3, 2/3, 1) before the CNN. "
        "Access: gradients of the whole pipeline, which are zero almost everywhere. "
        "Constraint: L-inf eps = 0.25 around each point, inside [0, 1]."
    )
    task = (
        "Submit 20 adversarial points, shape (20, 1, 8, 8) float32 (.npy, .npz with x or "
        "JSON). They are graded through the defense. Solved when at least 80% are "
        "misclassified. Hint: what do advlab's sanity checks say about PGD here?"
    )
    eps = 0.25
    n_points = 20
    threshold = 0.8

    def _build(self) -> Any:
        bundle = victims.digits_cnn(seed=0)
        return {"bundle": bundle, **correct_points(bundle.model, self.n_points, transform=squeeze)}

    def graded_labels(self, x: np.ndarray) -> np.ndarray:
        """Labels through the defense."""
        return victims.predict(self.state()["bundle"].model, squeeze(x).astype(np.float32))

    def extra_handout(self) -> dict[str, Any]:
        return {"defense": {"kind": "bit_depth", "levels": LEVELS}}

    def files(self) -> dict[str, bytes]:
        return victims.bundle_files(self.state()["bundle"])

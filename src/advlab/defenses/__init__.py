"""Defenses: target wrappers (input transforms, output masks, detectors), training options
(adversarial training, DP-SGD) and data sanitisers; the registry discovers them (:func:`advlab.registry.discover`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from advlab._lazy import lazy_exports

if TYPE_CHECKING:
    from advlab.defenses.base import DefendedTarget, Defense
    from advlab.defenses.smoothing import CertificationResult, RandomizedSmoothing, train_with_noise
    from advlab.defenses.squeezing import DetectionResult, FeatureSqueezing
    from advlab.defenses.transforms import BitDepthReduction, GaussianNoiseInput, MedianSmoothing

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "monitor": "advlab.defenses.monitor",
        "output": "advlab.defenses.output",
        "poison": "advlab.defenses.poison",
        "DefendedTarget": "advlab.defenses.base",
        "Defense": "advlab.defenses.base",
        "CertificationResult": "advlab.defenses.smoothing",
        "RandomizedSmoothing": "advlab.defenses.smoothing",
        "train_with_noise": "advlab.defenses.smoothing",
        "DetectionResult": "advlab.defenses.squeezing",
        "FeatureSqueezing": "advlab.defenses.squeezing",
        "BitDepthReduction": "advlab.defenses.transforms",
        "GaussianNoiseInput": "advlab.defenses.transforms",
        "MedianSmoothing": "advlab.defenses.transforms",
    },
)

__all__ = [
    "BitDepthReduction",
    "CertificationResult",
    "DefendedTarget",
    "Defense",
    "DetectionResult",
    "FeatureSqueezing",
    "GaussianNoiseInput",
    "MedianSmoothing",
    "RandomizedSmoothing",
    "train_with_noise",
]

"""Defenses: target wrappers (input transforms, output masks, detectors), training options
(adversarial training, DP-SGD) and data sanitisers; importing this package registers them."""

from advlab.defenses import monitor, output, poison  # noqa: F401  (registers them)
from advlab.defenses.base import DefendedTarget, Defense
from advlab.defenses.smoothing import CertificationResult, RandomizedSmoothing, train_with_noise
from advlab.defenses.squeezing import DetectionResult, FeatureSqueezing
from advlab.defenses.transforms import BitDepthReduction, GaussianNoiseInput, MedianSmoothing

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

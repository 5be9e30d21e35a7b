"""Poisoning defenses: data-level detectors sharing ``detect()`` (spectral signatures,
activation clustering), inference-time STRIP, Neural Cleanse, and training mitigations."""

from advlab.defenses.poison.activation_clustering import ActivationClustering
from advlab.defenses.poison.base import Detection, PoisonDetector, score_detection
from advlab.defenses.poison.mitigation import DataAugmentation, DPSGDMitigation
from advlab.defenses.poison.neural_cleanse import (
    NeuralCleanse,
    NeuralCleanseResult,
    mad_anomaly_index,
)
from advlab.defenses.poison.spectral import SpectralSignatures
from advlab.defenses.poison.strip import Strip, StripResult

__all__ = [
    "ActivationClustering",
    "DPSGDMitigation",
    "DataAugmentation",
    "Detection",
    "NeuralCleanse",
    "NeuralCleanseResult",
    "PoisonDetector",
    "SpectralSignatures",
    "Strip",
    "StripResult",
    "mad_anomaly_index",
    "score_detection",
]

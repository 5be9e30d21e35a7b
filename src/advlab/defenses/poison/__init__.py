"""Poisoning defenses: data-level detectors sharing ``detect()`` (spectral signatures,
activation clustering), inference-time STRIP, Neural Cleanse, and training mitigations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from advlab._lazy import lazy_exports

if TYPE_CHECKING:
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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ActivationClustering": "advlab.defenses.poison.activation_clustering",
        "Detection": "advlab.defenses.poison.base",
        "PoisonDetector": "advlab.defenses.poison.base",
        "score_detection": "advlab.defenses.poison.base",
        "DataAugmentation": "advlab.defenses.poison.mitigation",
        "DPSGDMitigation": "advlab.defenses.poison.mitigation",
        "NeuralCleanse": "advlab.defenses.poison.neural_cleanse",
        "NeuralCleanseResult": "advlab.defenses.poison.neural_cleanse",
        "mad_anomaly_index": "advlab.defenses.poison.neural_cleanse",
        "SpectralSignatures": "advlab.defenses.poison.spectral",
        "Strip": "advlab.defenses.poison.strip",
        "StripResult": "advlab.defenses.poison.strip",
    },
)

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

"""Poisoning defenses: data-level detectors sharing ``detect()`` and its threshold rules
(spectral signatures, activation clustering, STRIP, Neural Cleanse; STRIP also at inference
time, Neural Cleanse also per label), and training mitigations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from advlab._lazy import lazy_exports

if TYPE_CHECKING:
    from advlab.defenses.poison.activation_clustering import ActivationClustering
    from advlab.defenses.poison.base import Detection, PoisonDetector, score_detection
    from advlab.defenses.poison.calibration import (
        PoisonStatistic,
        clean_flags,
        conformal_threshold,
        modified_z,
        robust_flags,
    )
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
        "PoisonStatistic": "advlab.defenses.poison.calibration",
        "clean_flags": "advlab.defenses.poison.calibration",
        "conformal_threshold": "advlab.defenses.poison.calibration",
        "modified_z": "advlab.defenses.poison.calibration",
        "robust_flags": "advlab.defenses.poison.calibration",
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
    "PoisonStatistic",
    "SpectralSignatures",
    "Strip",
    "StripResult",
    "clean_flags",
    "conformal_threshold",
    "mad_anomaly_index",
    "modified_z",
    "robust_flags",
    "score_detection",
]

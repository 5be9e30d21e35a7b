"""Inference attacks: membership inference, model inversion and attribute inference.

Signals (model outputs) are extracted once by :mod:`.signals`; every membership attack
scores them with numpy only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from advlab._lazy import lazy_exports

if TYPE_CHECKING:
    from advlab.attacks.inference.attribute import AttributeInference
    from advlab.attacks.inference.base import (
        AttributeResult,
        InversionResult,
        MembershipAttack,
        MembershipResult,
    )
    from advlab.attacks.inference.inversion import MIFace
    from advlab.attacks.inference.label_only import LabelOnlyAugmentation, LabelOnlyBoundary
    from advlab.attacks.inference.lira import LiRA
    from advlab.attacks.inference.rmia import RMIA
    from advlab.attacks.inference.shokri import MLLeaks, ShokriAttack
    from advlab.attacks.inference.signals import (
        Augment,
        FunctionTrainer,
        ReferenceModels,
        ReferenceOutput,
        Signals,
        SklearnMLPTrainer,
        TorchTrainer,
        collect_signals,
        query_target,
    )
    from advlab.attacks.inference.threshold import (
        ConfidenceThreshold,
        EntropyThreshold,
        LossThreshold,
        ModifiedEntropyThreshold,
    )

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AttributeInference": "advlab.attacks.inference.attribute",
        "AttributeResult": "advlab.attacks.inference.base",
        "InversionResult": "advlab.attacks.inference.base",
        "MembershipAttack": "advlab.attacks.inference.base",
        "MembershipResult": "advlab.attacks.inference.base",
        "MIFace": "advlab.attacks.inference.inversion",
        "LabelOnlyAugmentation": "advlab.attacks.inference.label_only",
        "LabelOnlyBoundary": "advlab.attacks.inference.label_only",
        "LiRA": "advlab.attacks.inference.lira",
        "RMIA": "advlab.attacks.inference.rmia",
        "MLLeaks": "advlab.attacks.inference.shokri",
        "ShokriAttack": "advlab.attacks.inference.shokri",
        "Augment": "advlab.attacks.inference.signals",
        "FunctionTrainer": "advlab.attacks.inference.signals",
        "ReferenceModels": "advlab.attacks.inference.signals",
        "ReferenceOutput": "advlab.attacks.inference.signals",
        "Signals": "advlab.attacks.inference.signals",
        "SklearnMLPTrainer": "advlab.attacks.inference.signals",
        "TorchTrainer": "advlab.attacks.inference.signals",
        "collect_signals": "advlab.attacks.inference.signals",
        "query_target": "advlab.attacks.inference.signals",
        "ConfidenceThreshold": "advlab.attacks.inference.threshold",
        "EntropyThreshold": "advlab.attacks.inference.threshold",
        "LossThreshold": "advlab.attacks.inference.threshold",
        "ModifiedEntropyThreshold": "advlab.attacks.inference.threshold",
    },
)

__all__ = [
    "MIFace",
    "MLLeaks",
    "RMIA",
    "AttributeInference",
    "AttributeResult",
    "Augment",
    "ConfidenceThreshold",
    "EntropyThreshold",
    "FunctionTrainer",
    "InversionResult",
    "LabelOnlyAugmentation",
    "LabelOnlyBoundary",
    "LiRA",
    "LossThreshold",
    "MembershipAttack",
    "MembershipResult",
    "ModifiedEntropyThreshold",
    "ReferenceModels",
    "ReferenceOutput",
    "ShokriAttack",
    "Signals",
    "SklearnMLPTrainer",
    "TorchTrainer",
    "collect_signals",
    "query_target",
]

"""Inference attacks: membership inference, model inversion and attribute inference.

Signals (model outputs) are extracted once by :mod:`.signals`; every membership attack
scores them with numpy only. Importing this package registers the attacks.
"""

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

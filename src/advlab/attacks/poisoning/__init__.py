"""Poisoning attacks: label flipping, backdoors (BadNets, blended, clean-label), feature
collision (Poison Frogs), Witches' Brew gradient matching; and the victim pipeline that
retrains victims on a poisoned set over several seeds."""

from advlab.attacks.poisoning.backdoor import BadNets, Blended
from advlab.attacks.poisoning.base import (
    PoisonedDataset,
    PoisoningAttack,
    apply_trigger,
    make_trigger,
)
from advlab.attacks.poisoning.clean_label import CleanLabel
from advlab.attacks.poisoning.feature_collision import FeatureCollision
from advlab.attacks.poisoning.label_flip import LabelFlip
from advlab.attacks.poisoning.victim import (
    PoisoningResult,
    evaluate_poisoning,
    train_victim,
)
from advlab.attacks.poisoning.witches_brew import WitchesBrew

__all__ = [
    "BadNets",
    "Blended",
    "CleanLabel",
    "FeatureCollision",
    "LabelFlip",
    "PoisonedDataset",
    "PoisoningAttack",
    "PoisoningResult",
    "WitchesBrew",
    "apply_trigger",
    "evaluate_poisoning",
    "make_trigger",
    "train_victim",
]

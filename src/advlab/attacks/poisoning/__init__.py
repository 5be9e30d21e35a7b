"""Poisoning attacks: label flipping, backdoors (BadNets, blended, clean-label), feature
collision (Poison Frogs), Witches' Brew gradient matching; and the victim pipeline that
retrains victims on a poisoned set over several seeds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from advlab._lazy import lazy_exports

if TYPE_CHECKING:
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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "BadNets": "advlab.attacks.poisoning.backdoor",
        "Blended": "advlab.attacks.poisoning.backdoor",
        "PoisonedDataset": "advlab.attacks.poisoning.base",
        "PoisoningAttack": "advlab.attacks.poisoning.base",
        "apply_trigger": "advlab.attacks.poisoning.base",
        "make_trigger": "advlab.attacks.poisoning.base",
        "CleanLabel": "advlab.attacks.poisoning.clean_label",
        "FeatureCollision": "advlab.attacks.poisoning.feature_collision",
        "LabelFlip": "advlab.attacks.poisoning.label_flip",
        "PoisoningResult": "advlab.attacks.poisoning.victim",
        "evaluate_poisoning": "advlab.attacks.poisoning.victim",
        "train_victim": "advlab.attacks.poisoning.victim",
        "WitchesBrew": "advlab.attacks.poisoning.witches_brew",
    },
)

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

"""Base classes of defenses.

A defense either wraps a :class:`~advlab.targets.Target` and returns a drop-in replacement
(input transforms, output masks, detectors: :meth:`Defense.apply`), or is an option of a
training run (adversarial training, DP-SGD), or works on a dataset (poison detectors).
Constructors only store keyword arguments; validation happens when applied.
"""

from __future__ import annotations

from typing import Any, ClassVar

from advlab.plugin import Plugin
from advlab.targets.base import Target, TargetWrapper

ROLES = ("preprocess", "postprocess", "detector", "training", "data")


class Defense(Plugin):
    """The plugin parameter contract plus a defense's ``role`` and ``threat``.

    ``role`` is one of ``preprocess`` | ``postprocess`` | ``detector`` | ``training`` |
    ``data``; ``threat`` is the attack family it defends against. Target defenses (flag
    ``wraps_target``) implement :meth:`apply`.
    """

    role: ClassVar[str] = "preprocess"
    family: ClassVar[str] = "defense"
    threat: ClassVar[str] = "evasion"  # evasion | extraction | inference | poisoning

    @classmethod
    def derived_tags(cls) -> set[str]:
        """``threat:`` from ``threat``; ``modality:any`` unless the class declares one."""
        tags = {f"threat:{cls.threat}"}
        if not any(t.startswith("modality:") for t in cls.tags):
            tags.add("modality:any")
        return tags

    def apply(self, target: Target) -> Target:
        raise TypeError(f"{self.name} is a {self.role} defense; it does not wrap targets")


class DefendedTarget(TargetWrapper):
    """A target wrapped by a defense; ``describe()`` names the defense and its parameters."""

    def __init__(self, inner: Target, defense: Defense, **kwargs: Any) -> None:
        super().__init__(inner, **kwargs)
        self.defense = defense

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["defense"] = {"name": self.defense.name, "params": self.defense.get_params()}
        return d

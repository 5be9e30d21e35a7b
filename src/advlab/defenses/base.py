"""Base classes of defenses.

A defense either wraps a :class:`~advlab.targets.Target` and returns a drop-in replacement
(input transforms, output masks, detectors: :meth:`Defense.apply`), or is an option of a
training run (adversarial training, DP-SGD), or works on a dataset (poison detectors).
Constructors only store keyword arguments; validation happens when applied.
"""

from __future__ import annotations

from typing import Any, ClassVar

from advlab.attacks.base import Attack
from advlab.targets.base import Target, TargetWrapper


class Defense(Attack):
    """Metadata + the scikit-learn style constructor contract shared with attacks.

    ``kind`` is one of ``preprocess`` | ``postprocess`` | ``detector`` | ``training`` |
    ``data``. Target defenses implement :meth:`apply`.
    """

    kind: ClassVar[str] = "preprocess"
    family: ClassVar[str] = "defense"
    threat: ClassVar[str] = "evasion"  # evasion | extraction | inference | poisoning

    def apply(self, target: Target) -> Target:
        raise TypeError(f"{self.name} is a {self.kind} defense; it does not wrap targets")


class DefendedTarget(TargetWrapper):
    """A target wrapped by a defense; ``describe()`` names the defense and its parameters."""

    def __init__(self, inner: Target, defense: Defense, **kwargs: Any) -> None:
        super().__init__(inner, **kwargs)
        self.defense = defense

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["defense"] = {"name": self.defense.name, "params": self.defense.get_params()}
        return d

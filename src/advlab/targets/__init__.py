"""Targets: a model plus how an attacker can reach it.

``TorchClassifier`` (white-box), ``SklearnClassifier``, ``FunctionClassifier``,
``OnnxClassifier`` and ``HttpClassifier`` (black-box); wrappers ``LabelsOnly`` and
``ScoresOnly`` lower the access level.
"""

from __future__ import annotations

from typing import Any

from advlab.targets.base import LabelsOnly, ScoresOnly, Target, TargetWrapper
from advlab.targets.function import FunctionClassifier
from advlab.targets.sklearn import SklearnClassifier
from advlab.targets.torch import TorchClassifier

__all__ = [
    "FunctionClassifier",
    "HttpClassifier",
    "LabelsOnly",
    "OnnxClassifier",
    "ScoresOnly",
    "SklearnClassifier",
    "Target",
    "TargetWrapper",
    "TorchClassifier",
]


def __getattr__(name: str) -> Any:  # lazy: optional dependencies
    if name == "OnnxClassifier":
        from advlab.targets.onnx import OnnxClassifier

        return OnnxClassifier
    if name == "HttpClassifier":
        from advlab.targets.http import HttpClassifier

        return HttpClassifier
    raise AttributeError(name)

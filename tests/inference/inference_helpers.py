"""Helpers shared by the inference tests (a uniquely named module: tests have no packages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from advlab.attacks.inference import ReferenceOutput, Signals, SklearnMLPTrainer
from advlab.data import load_dataset
from advlab.targets.sklearn import SklearnClassifier


@dataclass
class MiaSetup:
    x: np.ndarray
    y: np.ndarray
    members: np.ndarray
    model: Any
    target: SklearnClassifier
    trainer: SklearnMLPTrainer
    ref: ReferenceOutput
    signals: Signals


def small_task(n: int = 800) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ds = load_dataset(
        "synthetic",
        seed=0,
        n_samples=n,
        n_features=20,
        n_classes=10,
        n_informative=10,
        class_sep=1.0,
    )
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    members = np.zeros(len(x), bool)
    members[np.random.default_rng(0).permutation(len(x))[: len(x) // 2]] = True
    return x, y, members

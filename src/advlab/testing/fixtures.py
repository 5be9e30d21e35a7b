"""The kit's own tiny, seeded fixtures, built in-process and cached once per process.

Nothing is downloaded: digits (8x8, embedded in scikit-learn) and a synthetic tabular task.
The digits CNNs go through :func:`advlab.models.reference_model`, so they are also cached
on disk (``$ADVLAB_CACHE``) and shared with any other user of the same recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

N_BATCH = 24
"""Points attacked by the evasion checks."""


@cache
def digits() -> Any:
    """The digits dataset (seed 0)."""
    from advlab.data import load_dataset

    return load_dataset("digits", seed=0)


@cache
def _bundle(epochs: int, seed: int) -> Any:
    from advlab.models import TrainConfig, reference_model

    return reference_model("digits", train=TrainConfig(epochs=epochs, seed=seed))


def victim() -> Any:
    """A fresh target (fresh query meter) around the undefended digits CNN."""
    return _bundle(8, 0).target(device="cpu")


def victim_bundle() -> Any:
    return _bundle(8, 0)


def surrogate() -> Any:
    """An independently trained digits CNN (for transfer attacks)."""
    return _bundle(6, 1).target(device="cpu")


def batch(n: int = N_BATCH) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` test points of digits."""
    ds = digits()
    return ds.x_test[:n].astype(np.float32), np.asarray(ds.y_test[:n])


@dataclass
class MembershipTask:
    """An overfit MLP on a synthetic task, with members, references and signals."""

    x: np.ndarray
    y: np.ndarray
    members: np.ndarray
    target: Any
    signals: Any
    label_signals: Any


@cache
def membership_task(n: int = 400) -> MembershipTask:
    """Half of ``n`` synthetic points train a one-hidden-layer MLP to overfitting (train
    accuracy about 1.0, test about 0.5); eight
    reference models are trained on random halves. ``label_signals`` are the target's
    labels on noisy augmentations (what a labels-only attacker gets)."""
    from advlab.attacks.inference import (
        Augment,
        ReferenceModels,
        SklearnMLPTrainer,
        collect_signals,
    )
    from advlab.data import load_dataset
    from advlab.targets import LabelsOnly
    from advlab.targets.sklearn import SklearnClassifier

    ds = load_dataset(
        "synthetic", seed=0, n_samples=n, n_features=20, n_classes=10, n_informative=10
    )
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    members = np.zeros(len(x), bool)
    members[np.random.default_rng(0).permutation(len(x))[: len(x) // 2]] = True
    trainer = SklearnMLPTrainer(hidden=(128,), max_iter=400, lr=3e-3)
    model = trainer.fit(x[members], y[members], seed=99, num_classes=10)
    target = SklearnClassifier(model, bounds=(0.0, 1.0), device="cpu")
    ref = ReferenceModels(trainer=trainer, n_models=8, seed=1).run(x, y)
    signals = collect_signals(target, x, y, reference=ref, members=members)
    aug = Augment(kind="noise", n=8, sigma=0.05, seed=3)
    label_signals = collect_signals(LabelsOnly(target), x, y, members=members, augment=aug)
    return MembershipTask(x, y, members, target, signals, label_signals)


@dataclass
class PoisonTask:
    """Digits, a small victim recipe, a target point and a trained clean model."""

    ds: Any
    spec: dict[str, Any]
    train: Any
    model: Any
    x_target: np.ndarray
    target_class: int


@cache
def poison_task() -> PoisonTask:
    """Victims are small MLPs trained 5 epochs; the target point is the first test point
    the clean model classifies correctly, to be moved to the next class."""
    from advlab.attacks.poisoning import train_victim
    from advlab.attacks.poisoning.victim import predict
    from advlab.models import TrainConfig, default_spec

    ds = digits()
    spec = default_spec(ds.input_shape, ds.num_classes, "mlp")
    train = TrainConfig(epochs=5, seed=0)
    model = train_victim(spec, ds.x_train, ds.y_train, train)
    pred = predict(model, ds.x_test)
    i = int(np.flatnonzero(pred == ds.y_test)[0])
    return PoisonTask(
        ds, spec, train, model, ds.x_test[i : i + 1], int((ds.y_test[i] + 1) % ds.num_classes)
    )

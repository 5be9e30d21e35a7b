"""Shared tiny membership-inference setup: an overfit MLP and 16 reference models."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib: make the shared helper module importable
sys.path.insert(0, str(Path(__file__).parent))

from inference_helpers import MiaSetup, small_task  # noqa: E402

from advlab.attacks.inference import ReferenceModels, SklearnMLPTrainer, collect_signals
from advlab.targets.sklearn import SklearnClassifier


@pytest.fixture(scope="session")
def mia() -> MiaSetup:
    x, y, members = small_task()
    trainer = SklearnMLPTrainer(hidden=(64,), max_iter=300, lr=3e-3)
    model = trainer.fit(x[members], y[members], seed=99, num_classes=10)
    target = SklearnClassifier(model, bounds=(0.0, 1.0), device="cpu")
    ref = ReferenceModels(trainer=trainer, n_models=16, seed=1).run(x, y)
    sig = collect_signals(target, x, y, reference=ref, members=members)
    return MiaSetup(x, y, members, model, target, trainer, ref, sig)

"""Shared fixtures: tiny models trained in-process on embedded data (cached per machine)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("ADVLAB_CACHE", str(ROOT / ".advlab-cache"))
torch.set_num_threads(1)  # tiny models: one thread is as fast and never oversubscribes


@pytest.fixture(scope="session")
def digits():
    from advlab.data import load_dataset

    return load_dataset("digits", seed=0)


@pytest.fixture(scope="session")
def digits_bundle():
    from advlab.models import TrainConfig, reference_model

    return reference_model("digits", train=TrainConfig(epochs=8, seed=0))


@pytest.fixture(scope="session")
def digits_surrogate_bundle():
    from advlab.models import TrainConfig, reference_model

    return reference_model("digits", train=TrainConfig(epochs=6, seed=1))


@pytest.fixture()
def digits_target(digits_bundle):
    """A fresh target (fresh query meter) around the cached tiny digits CNN."""
    return digits_bundle.target(device="cpu")


@pytest.fixture(scope="session")
def small_batch(digits):
    x = digits.x_test[:24].astype(np.float32)
    y = digits.y_test[:24]
    return x, y

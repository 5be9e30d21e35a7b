"""Shared fixtures of the evasion-defense tests: small digits CNNs trained once per session."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from advlab.data import Dataset, load_dataset
from advlab.defenses.smoothing import train_with_noise
from advlab.models import SmallCNN, TrainConfig, train_model
from advlab.targets import TorchClassifier
from advlab.testing.api import one_thread

# A small CNN that trains in a few seconds on 2 cores and reaches ~97% test accuracy.
ARCH = {"width": 8, "hidden": 64}
CFG = {"epochs": 12, "batch_size": 128, "lr": 3e-3, "seed": 0}


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


def small_cnn_target(model: torch.nn.Module) -> TorchClassifier:
    return TorchClassifier(model, bounds=(0.0, 1.0), device="cpu")


def train_cnn(ds: Dataset, **train: object) -> torch.nn.Module:
    torch.manual_seed(0)
    model = SmallCNN(**ARCH)
    cfg = TrainConfig(**{**CFG, **train})  # type: ignore[arg-type]
    with one_thread():
        return train_model(model, ds.x_train, ds.y_train, cfg, device="cpu")


@pytest.fixture(scope="session")
def digits() -> Dataset:
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="session")
def std_model(digits: Dataset) -> torch.nn.Module:
    return train_cnn(digits)


@pytest.fixture()
def std_target(std_model: torch.nn.Module) -> TorchClassifier:
    """A fresh target (fresh meter) around the shared standard CNN."""
    return small_cnn_target(std_model)


@pytest.fixture(scope="session")
def test_xy(digits: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(digits.x_test), torch.from_numpy(np.asarray(digits.y_test))


@pytest.fixture(scope="session")
def noise_target(digits: Dataset) -> TorchClassifier:
    """The same CNN trained with Gaussian noise augmentation (sigma 0.25) for smoothing."""
    torch.manual_seed(0)
    model = SmallCNN(**ARCH)
    with one_thread():
        train_with_noise(
            model,
            digits.x_train,
            digits.y_train,
            0.25,
            TrainConfig(**CFG),  # type: ignore[arg-type]
            device="cpu",
        )
    return small_cnn_target(model)


@pytest.fixture(scope="session")
def pgd_at_model(digits: Dataset) -> torch.nn.Module:
    """PGD adversarial training (Madry 2018) at eps 0.1 with a 3-step inner attack."""
    return train_cnn(digits, adversarial="pgd", adv_eps=0.1, adv_steps=3)


@pytest.fixture(scope="session")
def trades_model(digits: Dataset) -> torch.nn.Module:
    """TRADES (Zhang 2019) at eps 0.1, beta 6, with a 3-step inner attack."""
    return train_cnn(digits, adversarial="trades", adv_eps=0.1, adv_steps=3)

"""Shared fixtures: digits, a BadNets-poisoned set and victims trained once per session."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from advlab.attacks.poisoning import BadNets, train_victim
from advlab.data import load_dataset
from advlab.models import TrainConfig, default_spec

EPOCHS = 10


@pytest.fixture(scope="session")
def digits() -> Any:
    torch.set_num_threads(1)
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="session")
def spec(digits: Any) -> dict[str, Any]:
    return default_spec(digits.input_shape, digits.num_classes)


@pytest.fixture(scope="session")
def badnets_set(digits: Any) -> Any:
    return BadNets(budget=0.05, target_class=0, seed=0).poison(digits.x_train, digits.y_train)


@pytest.fixture(scope="session")
def poisoned_model(badnets_set: Any, spec: dict[str, Any]) -> torch.nn.Module:
    return train_victim(spec, badnets_set.x, badnets_set.y, TrainConfig(epochs=EPOCHS, seed=1))


@pytest.fixture(scope="session")
def clean_model(digits: Any, spec: dict[str, Any]) -> torch.nn.Module:
    return train_victim(spec, digits.x_train, digits.y_train, TrainConfig(epochs=EPOCHS, seed=1))

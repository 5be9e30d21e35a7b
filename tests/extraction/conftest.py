"""Shared fixtures for the extraction tests: one thread (the CI box is shared), tiny models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    # torch's intra-op threads thrash on a loaded 2-core machine; tiny models need one
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def digits():  # type: ignore[no-untyped-def]
    from advlab.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def digits_mlp(digits):  # type: ignore[no-untyped-def]
    """A small MLP victim on digits (test accuracy about 0.95)."""
    from advlab.models import MLP, TrainConfig, train_model

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    model = MLP(64, 10, hidden=(64,))
    train_model(model, digits.x_train, digits.y_train, TrainConfig(epochs=20, seed=0), device="cpu")
    torch.set_num_threads(n)
    return model

"""Fixtures of the constraint tests: the credit table and a linear model on it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="session")
def credit() -> Any:
    from advlab.data.credit import credit

    return credit(seed=0, n_samples=1200)


@pytest.fixture(scope="session")
def credit_cs(credit: Any) -> Any:
    return credit.meta["constraints"]


def _linear(credit: Any, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=500, C=10.0, random_state=seed).fit(
        credit.x_train, credit.y_train
    )


@pytest.fixture(scope="session")
def credit_models(credit: Any) -> tuple[Any, Any]:
    """Two linear models (victim and surrogate), fitted once."""
    return _linear(credit, 0), _linear(credit, 1)


def linear_target(model: Any) -> Any:  # the twin of credit_entry.credit_linear
    """A float32 torch twin of a fitted binary logistic regression (logits ``[0, w.x + b]``)."""
    import torch

    from advlab.targets import TorchClassifier

    layer = torch.nn.Linear(model.coef_.shape[1], 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(np.vstack([0 * model.coef_[0], model.coef_[0]])))
        layer.bias.copy_(torch.tensor([0.0, float(model.intercept_[0])]))
    return TorchClassifier(
        layer.eval(), bounds=(0.0, 1.0), input_shape=(layer.in_features,), num_classes=2
    )


@pytest.fixture()
def credit_target(credit_models: Any) -> Any:
    return linear_target(credit_models[0])


@pytest.fixture(scope="session")
def credit_batch(credit: Any, credit_models: Any) -> tuple[np.ndarray, np.ndarray]:
    """Twelve test points the victim classifies correctly."""
    x, y = credit.x_test, credit.y_test
    ok = credit_models[0].predict(x) == y
    return x[ok][:12].astype(np.float32), y[ok][:12]


@pytest.fixture()
def credit_surrogate(credit_models: Any) -> Any:
    return linear_target(credit_models[1])

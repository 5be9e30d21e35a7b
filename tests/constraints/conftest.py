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


@pytest.fixture()
def credit_target(credit_models: Any) -> Any:
    from advlab.targets import SklearnClassifier

    return SklearnClassifier(credit_models[0], bounds=(0.0, 1.0))


@pytest.fixture(scope="session")
def credit_batch(credit: Any, credit_models: Any) -> tuple[np.ndarray, np.ndarray]:
    """Twelve test points the victim classifies correctly."""
    x, y = credit.x_test, credit.y_test
    ok = credit_models[0].predict(x) == y
    return x[ok][:12].astype(np.float64), y[ok][:12]

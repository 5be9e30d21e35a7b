"""Targets keep the model's precision end to end, and infer the input shape from a batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from advlab.attacks.evasion import PGD
from advlab.attacks.extraction import EquationSolving
from advlab.errors import ConfigError
from advlab.targets.base import ScoresOnly
from advlab.targets.function import FunctionClassifier
from advlab.targets.sklearn import SklearnClassifier
from advlab.targets.torch import TorchClassifier


def _centred(w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return w - w.mean(0), b - b.mean()


@pytest.fixture(scope="module")
def logreg(digits):
    x = digits.x_train.reshape(len(digits.x_train), -1).astype(np.float64)
    return LogisticRegression(max_iter=300).fit(x, digits.y_train)


@pytest.mark.parametrize("white_box", [True, False])
def test_equation_solving_on_sklearn_logistic_regression_is_exact_to_float64(logreg, white_box):
    """Tramer et al.'s attack is exact; a float64 model seen through the target must stay so."""
    target = SklearnClassifier(logreg, bounds=(0, 1), device="cpu", white_box=white_box)
    res = EquationSolving().extract(target)
    w_true, b_true = _centred(logreg.coef_, logreg.intercept_)
    w, b = res.parameters["weight"], res.parameters["bias"]
    scale = max(np.abs(w_true).max(), np.abs(b_true).max())
    assert np.abs(w - w_true).max() / scale < 1e-10
    assert np.abs(b - b_true).max() / scale < 1e-10
    assert res.extra["output_dtype"] == "float64"


def test_function_classifier_keeps_float64_outputs(logreg):
    t = FunctionClassifier(
        logreg.predict_proba, input_shape=(64,), num_classes=10, dtype=torch.float64
    )
    x = np.random.default_rng(0).random((5, 64))
    out = t.scores(t.check_inputs(x))
    assert out.dtype == torch.float64
    np.testing.assert_array_equal(out.numpy(), logreg.predict_proba(x))
    wrapped = ScoresOnly(t)
    assert wrapped.dtype == torch.float64
    assert wrapped.scores(wrapped.check_inputs(x)).dtype == torch.float64


def _double_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)).double()


def test_torch_classifier_on_a_float64_model_without_num_classes():
    model = _double_net()
    t = TorchClassifier(model, input_shape=(1, 8, 8), device="cpu")
    assert t.num_classes == 10 and t.dtype == torch.float64
    x = np.random.default_rng(1).random((4, 1, 8, 8)).astype(np.float32)
    xt = t.check_inputs(x)
    assert xt.dtype == torch.float64
    want = model(torch.from_numpy(x).double())
    assert torch.equal(t.scores(xt), want.detach())


def test_torch_classifier_infers_the_input_shape_from_the_first_batch(digits):
    model = _double_net()
    t = TorchClassifier(model, bounds=(0.0, 1.0), device="cpu")
    with pytest.raises(ConfigError, match="input_shape is not known yet"):
        _ = t.input_shape
    x, y = digits.x_test[:20], digits.y_test[:20]
    res = PGD(eps=0.2, steps=5).run(t, x, y)  # no input_shape, no num_classes
    assert t.input_shape == (1, 8, 8) and t.num_classes == 10
    assert res.n == 20 and t.meter.queries > 0
    with pytest.raises(Exception, match="expected"):  # later batches must match it
        t.predict(np.zeros((2, 64)))

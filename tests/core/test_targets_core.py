"""Target adapters: access levels, metering, budgets, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from advlab.access import Access
from advlab.errors import AccessError, BudgetExhausted, ConfigError, InputError
from advlab.targets import FunctionClassifier, LabelsOnly, SklearnClassifier, TorchClassifier


@pytest.fixture(scope="module")
def wine():
    from advlab.data import load_dataset

    return load_dataset("wine", seed=0)


def test_torch_target_counts_and_budget(digits_bundle, digits):
    t = digits_bundle.target(device="cpu", query_budget=100)
    x = torch.as_tensor(digits.x_test[:40])
    t.labels(x)
    assert t.meter.queries == 40 and t.meter.gradient_calls == 0
    t.loss_gradient(x[:10], torch.as_tensor(digits.y_test[:10]))
    assert t.meter.queries == 50 and t.meter.gradient_calls == 10
    with pytest.raises(BudgetExhausted):
        t.labels(x[:40].repeat(2, 1, 1, 1))
    assert t.meter.queries == 50  # a refused call costs nothing


def test_torch_preprocess_and_extract():
    torch.manual_seed(0)
    lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))

    class TupleOut(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = lin

        def forward(self, x):
            return {"logits": self.m(x), "aux": x}

    mean, std = np.full(4, 0.5, np.float32), np.full(4, 2.0, np.float32)
    t = TorchClassifier(TupleOut(), bounds=(0.0, 1.0), input_shape=(4,), preprocess=(mean, std))
    x = torch.rand(5, 4)
    expected = lin((x - 0.5) / 2.0)
    assert torch.allclose(t.scores(x), expected, atol=1e-6)
    g, _ = t.loss_gradient(x, torch.zeros(5, dtype=torch.long))
    assert g.shape == x.shape and bool(torch.isfinite(g).all())
    assert t.num_classes == 3


def test_memory_format_channels_last_is_the_same_function(digits_bundle, digits):
    import copy

    from advlab.losses import get_loss

    x = torch.as_tensor(digits.x_test[:32])
    y = torch.as_tensor(digits.y_test[:32])
    fast = TorchClassifier(copy.deepcopy(digits_bundle.model), input_shape=(1, 8, 8))
    plain = TorchClassifier(
        copy.deepcopy(digits_bundle.model), input_shape=(1, 8, 8), memory_format="preserve"
    )
    assert fast.channels_last and not plain.channels_last  # auto: conv model on CPU
    conv = next(m for m in fast.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert fast.describe()["channels_last"] is True
    torch.testing.assert_close(fast.logits(x), plain.logits(x), rtol=1e-5, atol=1e-5)
    ce = get_loss("ce")
    g_fast, _ = fast.gradient(x, lambda z: ce(z, y))
    g_plain, _ = plain.gradient(x, lambda z: ce(z, y))
    assert g_fast.is_contiguous()
    torch.testing.assert_close(g_fast, g_plain, rtol=1e-4, atol=1e-6)


def test_a_channels_last_model_still_saves_and_loads(digits_bundle, tmp_path):
    import copy

    from advlab.models.io import load_bundle, save_model

    model = copy.deepcopy(digits_bundle.model)
    TorchClassifier(model, input_shape=(1, 8, 8), memory_format="channels_last")
    path = save_model(model, tmp_path / "m.safetensors", dict(digits_bundle.meta))
    x = torch.rand(5, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(load_bundle(path).model(x), model(x), rtol=1e-5, atol=1e-6)


def test_memory_format_auto_skips_non_conv_models_and_rejects_unknown_values():
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    assert not TorchClassifier(mlp, input_shape=(1, 2, 2)).channels_last
    assert not TorchClassifier(mlp, input_shape=(4,), memory_format="channels_last").channels_last
    with pytest.raises(ConfigError, match="memory_format"):
        TorchClassifier(mlp, input_shape=(4,), memory_format="nhwc")  # type: ignore[arg-type]


def test_probs_output_warns_and_logs(caplog):
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Softmax(dim=1))
    with caplog.at_level("WARNING"):
        t = TorchClassifier(model, input_shape=(3,), output="probs")
    assert "probabilities" in caplog.text
    x = torch.rand(4, 3)
    assert torch.allclose(t.logits(x).exp().sum(1), torch.ones(4), atol=1e-5)


def test_check_inputs_messages(digits_target):
    with pytest.raises(InputError, match=r"expected \(N, 1, 8, 8\)"):
        digits_target.check_inputs(np.zeros((2, 64)))
    with pytest.raises(InputError, match="NaN"):
        digits_target.check_inputs(np.full((1, 1, 8, 8), np.inf))
    with pytest.raises(InputError, match="outside the target's bounds"):
        digits_target.check_inputs(np.full((1, 1, 8, 8), 2.0))


@pytest.mark.parametrize(
    "est",
    [
        LogisticRegression(max_iter=500),
        MLPClassifier(hidden_layer_sizes=(16,), max_iter=400, random_state=0),
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
    ],
    ids=["logreg", "mlp", "pipeline"],
)
def test_sklearn_white_box_twin_is_exact(est, wine):
    est.fit(wine.x_train, wine.y_train)
    t = SklearnClassifier(est, bounds=(0.0, 1.0), device="cpu")
    assert t.access == Access.GRADIENTS
    x = torch.as_tensor(wine.x_test)
    probs = torch.softmax(t.scores(x), 1).numpy()
    assert np.allclose(probs, est.predict_proba(wine.x_test), atol=1e-5)
    # gradient of the true-class log-probability against finite differences
    y = torch.as_tensor(wine.y_test)
    g, _ = t.loss_gradient(x[:3], y[:3])
    h = 1e-3
    e = torch.zeros_like(x[:1])
    e[0, 2] = h
    lp = torch.nn.functional.cross_entropy
    fd = (lp(t.scores(x[:1] + e), y[:1]) - lp(t.scores(x[:1] - e), y[:1])) / (2 * h)
    assert float(g[0, 2]) == pytest.approx(float(fd), rel=1e-2, abs=1e-4)


def test_sklearn_black_box_and_binary(wine):
    rf = RandomForestClassifier(n_estimators=10, random_state=0).fit(wine.x_train, wine.y_train)
    t = SklearnClassifier(rf, bounds=(0.0, 1.0), device="cpu")
    assert t.access == Access.SCORES and t.output == "probs"
    with pytest.raises(AccessError, match="gradients"):
        t.loss_gradient(torch.as_tensor(wine.x_test[:2]), torch.zeros(2, dtype=torch.long))
    yb = (wine.y_train == 0).astype(int)
    lr = LogisticRegression().fit(wine.x_train, yb)
    tb = SklearnClassifier(lr, bounds=(0.0, 1.0), device="cpu")
    assert tb.num_classes == 2
    p = torch.softmax(tb.scores(torch.as_tensor(wine.x_test)), 1).numpy()
    assert np.allclose(p, lr.predict_proba(wine.x_test), atol=1e-5)


def test_sklearn_refuses_unfitted_and_bad_labels():
    with pytest.raises(ConfigError, match="not fitted"):
        SklearnClassifier(LogisticRegression())
    est = LogisticRegression().fit(np.random.rand(20, 3), np.array([3, 5] * 10))
    with pytest.raises(ConfigError, match="0..K-1"):
        SklearnClassifier(est)


def test_function_classifier_and_labels_only(wine):
    lr = LogisticRegression(max_iter=500).fit(wine.x_train, wine.y_train)
    t = FunctionClassifier(lr.predict_proba, input_shape=(13,), num_classes=3, returns="probs")
    assert t.access == Access.SCORES
    assert np.array_equal(t.predict(wine.x_test), lr.predict(wine.x_test))
    lo = LabelsOnly(t)
    assert lo.access == Access.LABELS
    with pytest.raises(AccessError, match="scores"):
        lo.scores(torch.as_tensor(wine.x_test[:2]))
    assert lo.meter is t.meter
    tl = FunctionClassifier(lr.predict, input_shape=(13,), num_classes=3, returns="labels")
    assert tl.access == Access.LABELS
    assert np.array_equal(tl.predict(wine.x_test), lr.predict(wine.x_test))
    bad = FunctionClassifier(lambda a: np.zeros((len(a), 2)), input_shape=(13,), num_classes=3)
    with pytest.raises(ConfigError, match="shape"):
        bad.predict(wine.x_test[:2])

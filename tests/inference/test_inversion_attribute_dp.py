"""Model inversion (MIFace), attribute inference with its no-model baseline, DP-SGD."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from advlab.attacks.inference import AttributeInference, InversionResult, MIFace
from advlab.data import load_dataset
from advlab.errors import AccessError
from advlab.results import Result
from advlab.targets.base import ScoresOnly
from advlab.targets.function import FunctionClassifier
from advlab.targets.sklearn import SklearnClassifier


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ds = load_dataset("digits", seed=0)
    return (
        ds.x_train.reshape(len(ds.x_train), -1),
        ds.y_train,
        ds.x_test.reshape(len(ds.x_test), -1),
        ds.y_test,
    )


def test_miface_reconstructions_recognised_by_independent_classifier(digits) -> None:  # type: ignore[no-untyped-def]
    xtr, ytr, xte, yte = digits
    half = len(xtr) // 2
    target = SklearnClassifier(
        LogisticRegression(max_iter=500, C=0.5).fit(xtr[:half], ytr[:half]),
        bounds=(0.0, 1.0),
        device="cpu",
    )
    # the evaluator's own model: different family, different data
    evaluator = SklearnClassifier(
        KNeighborsClassifier(5).fit(xtr[half:], ytr[half:]), bounds=(0.0, 1.0), device="cpu"
    )
    res = MIFace(steps=150, step_size=0.1, l2_weight=0.01).run(
        target, x_ref=xte, y_ref=yte, evaluator=evaluator
    )
    assert res.reconstructions.shape == (10, 64)
    assert res.reconstructions.min() >= 0 and res.reconstructions.max() <= 1
    assert float(np.mean(res.target_confidence)) > 0.9
    assert res.eval_accuracy is not None and res.eval_accuracy >= 0.5  # chance is 0.1
    assert res.gradient_calls > 0
    back = Result.from_json(res.to_json())
    assert isinstance(back, InversionResult) and back.eval_accuracy == res.eval_accuracy
    with pytest.raises(AccessError):
        MIFace(steps=2).run(ScoresOnly(target))


def test_attribute_inference_reports_a_no_model_baseline() -> None:
    rng = np.random.default_rng(0)
    n = 1200
    x = rng.random((n, 6)).astype(np.float32)
    x[:, 0] = rng.integers(0, 2, n)  # sensitive binary feature, independent of the others
    y = ((x[:, 1] > 0.5) ^ (x[:, 0] > 0.5)).astype(int)  # the label depends on it

    def predict(q: np.ndarray) -> np.ndarray:  # a model that learned the rule, confidently
        p1 = np.where((q[:, 1] > 0.5) ^ (q[:, 0] > 0.5), 0.95, 0.05)
        return np.c_[1 - p1, p1]

    target = FunctionClassifier(predict, input_shape=(6,), num_classes=2, returns="probs")
    res = AttributeInference(feature=0, values=[0.0, 1.0]).run(
        target, x[:400], y[:400], x_aux=x[400:], y_aux=y[400:]
    )
    assert res.accuracy is not None and res.accuracy > 0.95
    # the sensitive bit is recoverable from (x1, y) alone: the baseline matches the attack,
    # so this "attack" shows a distributional inference, not a privacy leak of the model
    assert res.baseline_accuracy is not None and res.baseline_accuracy > 0.9
    prior_only = AttributeInference(feature=0, values=[0.0, 1.0], baseline="prior").run(
        target, x[:400], y[:400], x_aux=x[400:], y_aux=y[400:]
    )
    assert prior_only.baseline_accuracy is not None and prior_only.baseline_accuracy < 0.6
    s = res.summary()
    assert s["advantage"] == pytest.approx(res.accuracy - res.baseline_accuracy)
    assert res.queries == 800  # one query per record and candidate value


def test_dp_sgd_spends_at_most_the_target_epsilon() -> None:
    pytest.importorskip("opacus", reason="the privacy extra is not installed")
    import torch

    from advlab.models import MLP, TrainConfig, accuracy
    from advlab.models.dp import train_dp

    torch.set_num_threads(1)
    ds = load_dataset(
        "synthetic",
        seed=0,
        n_samples=600,
        n_features=10,
        n_classes=3,
        n_informative=5,
        class_sep=2.0,
    )
    model = MLP(10, 3, hidden=(32,))
    cfg = TrainConfig(epochs=5, batch_size=64, lr=0.5, seed=0)
    model, eps = train_dp(
        model,
        ds.x_train,
        ds.y_train,
        cfg,
        target_epsilon=1.0,
        delta=1e-4,
        max_grad_norm=1.0,
        device="cpu",
    )
    assert 0 < eps <= 1.0 + 1e-6
    assert accuracy(model, ds.x_test, ds.y_test) > 0.5  # chance is 1/3
    # deterministic under the seed
    model2, eps2 = train_dp(
        MLP(10, 3, hidden=(32,)),
        ds.x_train,
        ds.y_train,
        cfg,
        target_epsilon=1.0,
        delta=1e-4,
        device="cpu",
    )
    assert eps2 == pytest.approx(eps)

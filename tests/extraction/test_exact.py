"""Exact extraction: equation solving, logit SVD, cryptanalytic, path-finding."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from torch import nn

from advlab.attacks.extraction import (
    Cryptanalytic,
    EquationSolving,
    ExtractionResult,
    LeafOracle,
    LogitSVD,
    PathFinding,
    logit_svd,
)
from advlab.errors import AccessError, BudgetExhausted, InputError
from advlab.results import Result
from advlab.targets.base import LabelsOnly
from advlab.targets.function import FunctionClassifier
from advlab.targets.sklearn import SklearnClassifier
from advlab.targets.torch import TorchClassifier


def _lr_target(digits, n_classes: int, probs: bool) -> tuple[TorchClassifier, nn.Linear]:
    x = digits.x_train.reshape(len(digits.x_train), -1)
    y = digits.y_train if n_classes > 2 else (digits.y_train >= 5).astype(int)
    lr = LogisticRegression(max_iter=500).fit(x, y)
    coef = lr.coef_ if n_classes > 2 else np.vstack([np.zeros(64), lr.coef_[0]])
    bias = lr.intercept_ if n_classes > 2 else np.array([0.0, lr.intercept_[0]])
    lin = nn.Linear(64, n_classes).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(coef))
        lin.bias.copy_(torch.tensor(bias))
    mod = nn.Sequential(lin, nn.Softmax(1)) if probs else lin
    t = TorchClassifier(
        mod,
        input_shape=(64,),
        num_classes=n_classes,
        output="probs" if probs else "logits",
        device="cpu",
    )
    return t, lin


@pytest.mark.parametrize("n_classes", [2, 10])
def test_equation_solving_exact(digits, n_classes) -> None:
    target, lin = _lr_target(digits, n_classes, probs=True)
    xte = digits.x_test.reshape(len(digits.x_test), -1)
    res = EquationSolving(verify=False).extract(target, x_eval=xte, y_eval=digits.y_test)
    assert res.queries == 64 + 1  # d + 1
    assert res.param_error is not None and res.param_error < 1e-8
    assert res.fidelity == {"test": 1.0, "uniform": 1.0}
    # independent check of the centred parameters against the true ones
    w = lin.weight.detach() - lin.weight.detach().mean(0)
    assert np.abs(res.parameters["weight"] - w.numpy()).max() < 1e-8
    # any input: far outside the data, the copy agrees too
    far = torch.randn(500, 64, dtype=torch.float64) * 50
    assert torch.equal(res.model(far).argmax(1), lin(far).argmax(1))
    d = json.loads(res.to_json())
    assert "model" not in d and d["type"] == "extraction"
    back = Result.from_json(res.to_json())
    assert isinstance(back, ExtractionResult) and back.fidelity == res.fidelity


def test_equation_solving_sklearn_and_verify(digits) -> None:
    x = digits.x_train.reshape(len(digits.x_train), -1)
    lr = LogisticRegression(max_iter=300).fit(x, digits.y_train)
    res = EquationSolving().extract(SklearnClassifier(lr, bounds=(0, 1), device="cpu"))
    assert res.queries == 66  # d + 1 plus one check query
    assert res.param_error < 1e-9  # the target keeps scikit-learn's float64 end to end
    assert res.fidelity["uniform"] == 1.0


def test_equation_solving_bad_inputs(digits) -> None:
    target, _ = _lr_target(digits, 10, probs=False)
    with pytest.raises(AccessError, match="scores"):
        EquationSolving().extract(LabelsOnly(target))
    target.meter.query_budget = target.meter.queries + 10
    with pytest.raises(BudgetExhausted, match="needs at least 66 queries"):
        EquationSolving().extract(target)
    target.meter.query_budget = None
    nan = FunctionClassifier(
        lambda a: np.full((len(a), 3), np.nan), input_shape=(4,), num_classes=3, returns="logits"
    )
    with pytest.raises(InputError, match="NaN"):
        EquationSolving().extract(nan)
    mlp = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)).double()
    nonlinear = TorchClassifier(mlp, input_shape=(64,), num_classes=10, device="cpu")
    with pytest.raises(InputError, match="inconsistent"):
        EquationSolving().extract(nonlinear)


def test_logit_svd_exact_hidden_dim() -> None:
    torch.manual_seed(0)
    from advlab.models import MLP

    model = MLP(20, 256, hidden=(64, 48))
    with torch.no_grad():
        model.body[3].bias.add_(1.0)  # every last-hidden unit alive on the input box
    target = TorchClassifier(model, input_shape=(20,), device="cpu")
    res = LogitSVD().extract(target)
    assert res.parameters["hidden_dim"] == 48
    assert res.queries == 256 + 16
    assert res.param_error is not None and res.extra["param_error_relative_fro"] < 1e-3
    # the pure function also sees a rank drop on log-probabilities
    fit = logit_svd(torch.log_softmax(torch.randn(100, 7) @ torch.randn(7, 40), 1))
    assert fit.hidden_dim == 7 and not fit.full_rank


def _relu_net(d: int, h: int, k: int, seed: int = 0) -> TorchClassifier:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, k)).double()
    return TorchClassifier(net, bounds=(-2.0, 2.0), input_shape=(d,), num_classes=k, device="cpu")


def test_cryptanalytic_one_hidden_layer() -> None:
    target = _relu_net(10, 16, 3)
    res = Cryptanalytic().extract(target, n_uniform=2000)
    assert res.extra["hidden_found"] == 16 and res.extra["signs_resolved"]
    assert res.extra["param_error_relative"] < 1e-4
    assert res.queries <= 2**20
    assert res.fidelity["uniform"] == 1.0
    x = torch.rand(300, 10, dtype=torch.float64) * 4 - 2
    out = target.model(x).detach()
    assert float((res.model(x) - out).abs().max()) < 1e-6 * float(out.abs().max())


def test_cryptanalytic_two_layers_first_layer() -> None:
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3)
    ).double()
    target = TorchClassifier(net, bounds=(-2.0, 2.0), input_shape=(8,), num_classes=3, device="cpu")
    res = Cryptanalytic(hidden_layers=2, lines=120, patience=120, fit_queries=1000).extract(target)
    assert res.extra["first_layer_found"] == 8
    assert res.param_error is not None and res.param_error < 1e-4


def test_cryptanalytic_rejects_non_piecewise_linear() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    target = TorchClassifier(net, bounds=(-2.0, 2.0), input_shape=(4,), num_classes=3, device="cpu")
    with pytest.raises(InputError):
        Cryptanalytic(lines=5, patience=5, grid=64).extract(target)


def test_path_finding_leaf_ids_and_labels(digits) -> None:
    x = digits.x_train.reshape(len(digits.x_train), -1)
    xte = digits.x_test.reshape(len(digits.x_test), -1)
    tree = DecisionTreeClassifier(max_depth=4, random_state=0).fit(x, digits.y_train)
    res = PathFinding().extract(LeafOracle(tree, input_shape=(64,)), x_eval=xte)
    assert res.extra["leaves_found"] == tree.tree_.n_leaves == 16
    assert res.fidelity == {"test": 1.0, "uniform": 1.0}
    lab = PathFinding(identifier="label", query_budget=20_000).extract(
        LeafOracle(tree, input_shape=(64,)), x_eval=xte
    )
    assert lab.extra["identifier"] == "label"
    assert lab.fidelity["uniform"] < 1.0  # labels alone merge leaves: not exact
    with pytest.raises(AccessError, match="leaf"):
        PathFinding(identifier="leaf").extract(SklearnClassifier(tree, bounds=(0, 1), device="cpu"))

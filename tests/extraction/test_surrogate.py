"""Surrogate extraction (Knockoff, Jacobian augmentation, active learning) and transfer."""

from __future__ import annotations

import pytest
import torch

from advlab.attacks.extraction import (
    ActiveExtraction,
    JacobianAugmentation,
    KnockoffNets,
    TransferEvasion,
)
from advlab.errors import ConfigError, InputError
from advlab.targets.base import LabelsOnly
from advlab.targets.torch import TorchClassifier

SMALL = {"arch": "mlp", "in_features": 64, "num_classes": 10, "hidden": [128]}


@pytest.fixture(scope="module")
def victim(digits_mlp) -> TorchClassifier:
    return TorchClassifier(digits_mlp, input_shape=(1, 8, 8), device="cpu")


def test_knockoff_digits_label_only_acceptance(victim, digits) -> None:
    target = LabelsOnly(victim)
    res = KnockoffNets(query_budget=2000, arch=SMALL, epochs=20).extract(
        target, digits.x_train, x_eval=digits.x_test, y_eval=digits.y_test
    )
    assert res.queries <= 2000
    assert res.extra["labels"] == "hard"
    assert res.fidelity["test"] >= 0.95
    # Jagielski 2020: fidelity off the data distribution is much lower
    assert res.fidelity["uniform"] < res.fidelity["test"]


def test_knockoff_curve_and_adaptive(victim, digits) -> None:
    res = KnockoffNets(
        query_budget=300,
        arch=SMALL,
        epochs=5,
        strategy="adaptive",
        round_size=100,
        checkpoints=[100, 300],
    ).extract(victim, digits.x_train, x_eval=digits.x_test)
    assert res.queries == 300 and res.extra["labels"] == "soft"
    assert [p["queries"] for p in res.curve] == [100, 300]
    assert abs(sum(res.extra["policy"]) - 1) < 1e-6
    assert res.curve[-1]["fidelity"]["test"] > 0.6


def test_knockoff_respects_budget_and_needs_data(victim, digits) -> None:
    victim.meter.query_budget = victim.meter.queries + 150
    try:
        res = KnockoffNets(query_budget=1000, arch=SMALL, epochs=2).extract(victim, digits.x_train)
        assert res.queries == 150
    finally:
        victim.meter.query_budget = None
    with pytest.raises(InputError, match="needs attacker data"):
        KnockoffNets().extract(victim)
    with pytest.raises(ConfigError, match="strategy"):
        KnockoffNets(strategy="greedy").extract(victim, digits.x_train)


def test_jacobian_augmentation(victim, digits) -> None:
    seeds = digits.x_train[:50]
    res = JacobianAugmentation(rounds=3, arch=SMALL, epochs=5, query_budget=400).extract(
        LabelsOnly(victim), seeds, x_eval=digits.x_test
    )
    assert res.queries == 50 + 50 + 100  # the set doubles each round
    assert res.extra["rounds"] == 3
    assert res.fidelity["test"] > 0.5


@pytest.mark.parametrize("strategy", ["uncertainty", "kcenter"])
def test_active(victim, digits, strategy) -> None:
    res = ActiveExtraction(
        strategy=strategy, query_budget=300, initial=100, round_size=100, arch=SMALL, epochs=5
    ).extract(victim, digits.x_train, x_eval=digits.x_test)
    assert res.queries == 300
    assert res.fidelity["test"] > 0.7


def test_transfer_evasion(victim, digits) -> None:
    res = TransferEvasion(
        extractor_params={"query_budget": 800, "arch": SMALL, "epochs": 10},
        n_adv=100,
        eps=0.3,
        steps=20,
    ).extract(victim, digits.x_train)
    assert res.queries == 800 + 100
    assert res.extra["surrogate_success_rate"] > 0.5
    # crafted examples transfer far better than random noise of the same size
    assert res.extra["transfer_rate"] > res.extra["noise_control_rate"] + 0.2
    assert torch.is_tensor(torch.as_tensor(res.extra["transfer_rate"]))

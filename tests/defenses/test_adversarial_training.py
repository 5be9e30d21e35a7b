"""Adversarial training (PGD-AT, TRADES) as options of the training loop."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from advlab.attacks.evasion import PGD
from advlab.defenses.adversarial_training import adversarial_loss
from advlab.errors import ConfigError
from advlab.models import TrainConfig
from advlab.targets import TorchClassifier

XY = tuple[torch.Tensor, torch.Tensor]


def robust(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    res = PGD(norm="linf", eps=0.1, steps=20, seed=0).run(
        TorchClassifier(model, device="cpu"), x, y
    )
    return res.clean_accuracy, res.robust_accuracy


@pytest.mark.parametrize("which", ["pgd_at_model", "trades_model"])
def test_adversarial_training_raises_pgd_robust_accuracy(
    which: str, std_model: torch.nn.Module, test_xy: XY, request: pytest.FixtureRequest
) -> None:
    x, y = test_xy[0][:300], test_xy[1][:300]
    model = request.getfixturevalue(which)
    clean_std, rob_std = robust(std_model, x, y)
    clean_adv, rob_adv = robust(model, x, y)
    assert clean_std > 0.9 and clean_adv > 0.85, (clean_std, clean_adv)
    assert rob_adv > rob_std + 0.2, (which, rob_std, rob_adv)


def test_pgd_at_loss_is_the_loss_at_a_worse_point(std_model: torch.nn.Module, test_xy: XY) -> None:
    x, y = test_xy[0][:64], test_xy[1][:64]
    cfg = TrainConfig(adversarial="pgd", adv_eps=0.1, adv_steps=5)
    loss_fn = adversarial_loss(cfg, (0.0, 1.0))
    std_model.train()
    try:
        torch.manual_seed(0)
        adv = loss_fn(std_model, x, y)
        assert std_model.training, "the inner attack must restore the training mode"
    finally:
        std_model.eval()
    with torch.no_grad():
        clean = F.cross_entropy(std_model(x), y)
    assert adv.item() > 2 * clean.item()
    adv.backward()  # differentiable w.r.t. the parameters
    grads = [p.grad for p in std_model.parameters()]
    assert all(g is not None for g in grads)
    std_model.zero_grad(set_to_none=True)


def test_trades_loss_decomposes(std_model: torch.nn.Module, test_xy: XY) -> None:
    x, y = test_xy[0][:64], test_xy[1][:64]
    clean = F.cross_entropy(std_model(x), y).item()
    l0 = adversarial_loss(TrainConfig(adversarial="trades", trades_beta=0.0), (0.0, 1.0))
    l6 = adversarial_loss(TrainConfig(adversarial="trades", trades_beta=6.0), (0.0, 1.0))
    loss0, loss6 = l0(std_model, x, y).item(), l6(std_model, x, y).item()
    assert loss0 == pytest.approx(clean, rel=1e-5)  # beta = 0: plain cross-entropy
    assert loss6 > clean  # the KL term is positive at the inner maximiser


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="adversarial"):
        TrainConfig(adversarial="fgsm-at").validate()

"""Adversarial training losses, used as options of :func:`advlab.models.train_model`.

- PGD-AT: Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks",
  ICLR 2018 (arXiv:1706.06083): minimise the loss on PGD examples.
- TRADES: Zhang et al., "Theoretically Principled Trade-off between Robustness and
  Accuracy", ICML 2019 (arXiv:1901.08573): ``CE(f(x), y) + beta * KL(f(x) || f(x'))`` with
  ``x'`` maximising the KL term inside the ball.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from advlab.norms import project, steepest


class AdversarialSettings(Protocol):
    """The adversarial-training fields of :class:`advlab.models.TrainConfig` (read only here,
    so this module does not import the training loop that imports it)."""

    adversarial: str | None
    adv_eps: float
    adv_steps: int
    adv_norm: str
    adv_step_size: float | None
    trades_beta: float


TrainLoss = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def _inner_max(
    model: nn.Module,
    x: torch.Tensor,
    objective: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    *,
    eps: float,
    steps: int,
    alpha: float,
    norm: str,
    bounds: tuple[float, float],
) -> torch.Tensor:
    """A lean PGD on the raw module (no metering) for the inner maximisation."""
    was_training = model.training
    model.eval()
    xa = x0.detach()
    for _ in range(steps):
        xa.requires_grad_(True)
        (g,) = torch.autograd.grad(objective(model(xa)), xa)
        xa = xa.detach() + alpha * steepest(g, norm)
        xa = (x + project(xa - x, eps, norm)).clamp(*bounds).detach()
    model.train(was_training)
    return xa


def adversarial_loss(cfg: AdversarialSettings, bounds: tuple[float, float]) -> TrainLoss:
    """The per-batch training loss for ``cfg.adversarial`` (``pgd`` or ``trades``)."""
    eps, steps, norm = cfg.adv_eps, cfg.adv_steps, cfg.adv_norm
    alpha = cfg.adv_step_size or 2.5 * eps / steps

    def pgd_at(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x0 = (x + (torch.rand_like(x) * 2 - 1) * eps).clamp(*bounds) if norm == "linf" else x
        xa = _inner_max(
            model,
            x,
            lambda z: F.cross_entropy(z, y),
            x0,
            eps=eps,
            steps=steps,
            alpha=alpha,
            norm=norm,
            bounds=bounds,
        )
        return F.cross_entropy(model(xa), y)

    def trades(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        was_training = model.training
        model.eval()  # the reference implementation computes the clean target in eval mode
        with torch.no_grad():
            p_clean = F.softmax(model(x), dim=1)
        model.train(was_training)
        x0 = (x + 0.001 * torch.randn_like(x)).clamp(*bounds)

        def kl(z: torch.Tensor) -> torch.Tensor:
            return F.kl_div(F.log_softmax(z, dim=1), p_clean, reduction="sum")

        xa = _inner_max(
            model, x, kl, x0, eps=eps, steps=steps, alpha=alpha, norm=norm, bounds=bounds
        )
        logits = model(x)
        robust = F.kl_div(
            F.log_softmax(model(xa), dim=1), F.softmax(logits, dim=1), reduction="batchmean"
        )
        return F.cross_entropy(logits, y) + cfg.trades_beta * robust

    return pgd_at if cfg.adversarial == "pgd" else trades

"""Shared pieces of surrogate-training extraction attacks: build, train, query, cluster."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from advlab.errors import ConfigError
from advlab.models.arch import MLP, SmallCNN, build


def build_surrogate(
    arch: str | dict[str, Any], input_shape: tuple[int, ...], num_classes: int, seed: int | None
) -> nn.Module:
    """The attacker's architecture: ``"mlp"``, ``"cnn"``, ``"auto"`` or a build spec dict."""
    torch.manual_seed(int(seed or 0))
    if isinstance(arch, dict):
        return build(arch)
    if arch == "auto":
        arch = "cnn" if len(input_shape) == 3 and input_shape[1] == input_shape[2] else "mlp"
    if arch == "mlp":
        return MLP(int(np.prod(input_shape)), num_classes, hidden=(256, 128))
    if arch == "cnn":
        if len(input_shape) != 3:
            raise ConfigError(f"cnn surrogate needs (C, H, W) inputs, got {input_shape}")
        return SmallCNN(input_shape[0], num_classes, input_shape[1], width=16, hidden=64)
    raise ConfigError(f"unknown surrogate arch {arch!r}; expected auto, mlp, cnn or a spec dict")


def fit_surrogate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int | None,
    min_steps: int = 300,
) -> nn.Module:
    """Train ``model`` on ``x`` with hard labels (long ``y``) or soft labels (float ``y``).

    Runs ``epochs`` epochs but at least ``min_steps`` optimiser steps (small query sets
    otherwise get too few updates). Returns the model in eval mode.
    """
    dev = x.device
    model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(int(seed or 0))
    n = len(x)
    if n == 0:
        return model.eval()
    per_epoch = max(1, math.ceil(n / batch_size))
    total_epochs = max(epochs, math.ceil(min_steps / per_epoch))
    soft = y.is_floating_point()
    xf = x.float()
    for _ in range(total_epochs):
        perm = torch.randperm(n, generator=gen).to(dev)
        for s in range(0, n, batch_size):
            idx = perm[s : s + batch_size]
            z = model(xf[idx])
            if soft:
                loss = -(y[idx] * F.log_softmax(z, 1)).sum(1).mean()
            else:
                loss = F.cross_entropy(z, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


def kmeans(x: torch.Tensor, k: int, *, iters: int = 15, seed: int | None = 0) -> torch.Tensor:
    """Seeded k-means (k-means++ init) on flattened rows; returns cluster ids."""
    flat = x.reshape(len(x), -1).float()
    g = torch.Generator().manual_seed(int(seed or 0))
    k = max(1, min(k, len(flat)))
    centres = flat[torch.randint(len(flat), (1,), generator=g)]
    for _ in range(1, k):
        d = torch.cdist(flat, centres).min(1).values ** 2
        probs = d / d.sum() if float(d.sum()) > 0 else torch.full_like(d, 1.0 / len(d))
        centres = torch.cat([centres, flat[torch.multinomial(probs.cpu(), 1, generator=g)]])
    assign = torch.zeros(len(flat), dtype=torch.long)
    for _ in range(iters):
        assign = torch.cdist(flat, centres).argmin(1)
        for j in range(k):
            members = flat[assign == j]
            if len(members):
                centres[j] = members.mean(0)
    return assign.cpu()


def soft_or_hard(scores: torch.Tensor, output: str, use_scores: bool) -> torch.Tensor:
    """Training targets from target answers: probabilities (soft) or arg-max labels (hard)."""
    if not use_scores:
        return scores.argmax(1)
    if output == "logits":
        return torch.softmax(scores.float(), 1)
    p = scores.float().clamp_min(0)
    return p / p.sum(1, keepdim=True).clamp_min(1e-12)


class CastInput(nn.Module):
    """Wraps a float32 surrogate so it accepts inputs of any floating dtype."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.float())  # type: ignore[no-any-return]


def summarise_module(model: nn.Module) -> dict[str, Any]:
    """JSON-able summary of a stolen network (type and parameter count)."""
    return {
        "architecture": type(model).__name__,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "repr": repr(model)[:2000],
    }

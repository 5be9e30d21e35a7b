"""A seeded training loop with optional adversarial training (PGD-AT, TRADES)."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from advlab.errors import ConfigError
from advlab.utils import progress_bar, resolve_device, seed_everything

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Training options. ``adversarial``: ``None`` | ``"pgd"`` (Madry 2018) | ``"trades"``
    (Zhang 2019), with the inner attack's ``adv_eps``/``adv_steps``/``adv_step_size``."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    adversarial: str | None = None
    adv_eps: float = 0.1
    adv_steps: int = 10
    adv_step_size: float | None = None
    adv_norm: str = "linf"
    trades_beta: float = 6.0

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad field (types, ranges, NaN)."""
        for name in ("epochs", "batch_size", "adv_steps"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"train.{name} must be an integer >= 1, got {v!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ConfigError(f"train.seed must be an integer, got {self.seed!r}")
        positive: dict[str, Any] = {"lr": self.lr, "adv_eps": self.adv_eps}
        if self.adv_step_size is not None:
            positive["adv_step_size"] = self.adv_step_size
        non_negative = {"weight_decay": self.weight_decay, "trades_beta": self.trades_beta}
        for name, v in {**positive, **non_negative}.items():
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            if not ok or (v <= 0 if name in positive else v < 0):
                bound = "> 0" if name in positive else ">= 0"
                raise ConfigError(f"train.{name} must be a finite number {bound}, got {v!r}")
        if self.adv_norm not in ("linf", "l2", "l1"):
            raise ConfigError(f"train.adv_norm must be linf, l2 or l1, got {self.adv_norm!r}")
        if self.adversarial not in (None, "pgd", "trades"):
            raise ConfigError(
                f"adversarial must be None, 'pgd' or 'trades', got {self.adversarial!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_model(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig | None = None,
    *,
    bounds: tuple[float, float] = (0.0, 1.0),
    device: str | torch.device = "auto",
    description: str = "train",
) -> nn.Module:
    """Train ``model`` in place on ``(x, y)``; returns it in eval mode on ``device``."""
    cfg = config or TrainConfig()
    cfg.validate()
    dev = resolve_device(device)
    seed_everything(cfg.seed)
    model.to(dev).train()
    xt = torch.as_tensor(x, dtype=torch.float32, device=dev)
    yt = torch.as_tensor(y, dtype=torch.long, device=dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    adv_loss = None
    if cfg.adversarial is not None:
        from advlab.defenses.adversarial_training import adversarial_loss

        adv_loss = adversarial_loss(cfg, bounds)
    t0 = time.perf_counter()
    with progress_bar(description, cfg.epochs) as advance:
        for _ in range(cfg.epochs):
            perm = torch.randperm(len(xt), generator=gen).to(dev)
            for start in range(0, len(xt), cfg.batch_size):
                idx = perm[start : start + cfg.batch_size]
                xb, yb = xt[idx], yt[idx]
                loss = adv_loss(model, xb, yb) if adv_loss else F.cross_entropy(model(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            advance(1)
    log.info("%s: %d epochs in %.1fs", description, cfg.epochs, time.perf_counter() - t0)
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 1024) -> float:
    dev = next(model.parameters()).device
    correct = 0
    for s in range(0, len(x), batch_size):
        xb = torch.as_tensor(x[s : s + batch_size], dtype=torch.float32, device=dev)
        correct += int((model(xb).argmax(1).cpu().numpy() == y[s : s + batch_size]).sum())
    return correct / max(len(x), 1)

"""DP-SGD training through Opacus (optional extra: ``pip install 'advlab[privacy]'``).

Abadi et al., "Deep Learning with Differential Privacy", CCS 2016 (arXiv:1607.00133):
per-example gradients clipped to ``max_grad_norm``, Gaussian noise added, Poisson-sampled
batches; the noise multiplier is calibrated by Opacus so that ``cfg.epochs`` epochs spend
at most ``target_epsilon`` at ``delta`` under the chosen accountant ("prv" or "rdp").

The model is trained in place (Opacus wraps it; the unwrapped module is returned) with the
same :class:`~advlab.models.train.TrainConfig` as standard training (``lr``, ``epochs``,
``batch_size``, ``seed``, ``weight_decay``); adversarial training options are ignored.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from advlab.errors import ConfigError
from advlab.models.train import TrainConfig
from advlab.utils import resolve_device, seed_everything

log = logging.getLogger(__name__)


def _opacus() -> Any:
    try:
        import opacus
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError("DP-SGD needs Opacus: pip install 'advlab[privacy]'") from exc
    return opacus


def train_dp(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    cfg: TrainConfig | None = None,
    *,
    target_epsilon: float,
    delta: float = 1e-5,
    max_grad_norm: float = 1.0,
    accountant: str = "prv",
    optimizer: str = "sgd",
    device: str | torch.device = "auto",
) -> tuple[nn.Module, float]:
    """Train ``model`` with DP-SGD to ``(target_epsilon, delta)``; returns ``(model, eps_spent)``.

    ``optimizer``: ``"sgd"`` (momentum 0.9, the usual DP-SGD choice) or ``"adam"``.
    """
    opacus = _opacus()
    from opacus.validators import ModuleValidator

    cfg = cfg or TrainConfig()
    cfg.validate()
    if not target_epsilon > 0:
        raise ConfigError(f"target_epsilon must be > 0, got {target_epsilon}")
    if not 0 <= delta < 1:
        raise ConfigError(f"delta must be in [0, 1), got {delta}")
    if delta >= 1.0 / max(len(x), 1):
        log.warning("delta=%g is not below 1/n = %g: the guarantee is weak", delta, 1 / len(x))
    if not max_grad_norm > 0:
        raise ConfigError(f"max_grad_norm must be > 0, got {max_grad_norm}")
    dev = resolve_device(device)
    seed_everything(cfg.seed)
    if not ModuleValidator.is_valid(model):
        model = ModuleValidator.fix(model)
    model.to(dev).train()
    ds = torch.utils.data.TensorDataset(
        torch.as_tensor(np.asarray(x), dtype=torch.float32),
        torch.as_tensor(np.asarray(y), dtype=torch.long),
    )
    gen = torch.Generator().manual_seed(cfg.seed)
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, generator=gen)
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay
        )
    elif optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        raise ConfigError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    engine = opacus.PrivacyEngine(accountant=accountant)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pmodel, popt, ploader = engine.make_private_with_epsilon(
            module=model,
            optimizer=opt,
            data_loader=loader,
            target_epsilon=target_epsilon,
            target_delta=delta,
            epochs=cfg.epochs,
            max_grad_norm=max_grad_norm,
            noise_generator=torch.Generator(device=dev).manual_seed(cfg.seed + 1),
        )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(cfg.epochs):
            for xb, yb in ploader:
                if len(xb) == 0:
                    continue
                xb, yb = xb.to(dev), yb.to(dev)
                popt.zero_grad(set_to_none=True)
                F.cross_entropy(pmodel(xb), yb).backward()
                popt.step()
    eps = float(engine.get_epsilon(delta))
    log.info(
        "DP-SGD: %d epochs in %.1fs, noise multiplier %.3f, epsilon %.3f at delta %g",
        cfg.epochs,
        time.perf_counter() - t0,
        popt.noise_multiplier,
        eps,
        delta,
    )
    inner = pmodel._module if hasattr(pmodel, "_module") else pmodel
    for p in inner.parameters():
        p.grad_sample = None  # type: ignore[attr-defined]
    return inner.eval(), eps

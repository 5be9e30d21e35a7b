"""DP-SGD training of the tiny GPT (Abadi et al. 2016, "Deep Learning with Differential
Privacy", CCS, arXiv:1607.00133), with Opacus' optimizer and privacy accountant (Yousefpour
et al. 2021, "Opacus: User-Friendly Differential Privacy Library in PyTorch",
arXiv:2109.12298).

Each step draws a Poisson batch (every example independently with probability
``q = batch_size / n``, what the accountant assumes), computes one gradient per example,
clips each to ``max_grad_norm``, sums them, adds Gaussian noise of standard deviation
``noise_multiplier * max_grad_norm`` and divides by the expected batch size
(``opacus.optimizers.DPOptimizer``). The RDP accountant (``opacus.accountants.RDPAccountant``)
tracks the privacy spent; ``opacus.accountants.utils.get_noise_multiplier`` picks the noise for
a target ``(epsilon, delta)`` over the planned steps. ``epsilon = inf`` keeps the clipping and
drops the noise (the same optimiser without privacy).

Per-example gradients come from ``torch.func`` (``vmap`` of ``grad`` over the whole model),
not from Opacus' per-layer hooks: the tiny GPT ties its input embedding to its output layer
(``ln(h) @ tok.weight.T`` is not a module call, which the hooks never see) and indexes its
positional embedding without a batch dimension, so per-layer hooks would clip a wrong
gradient. The functional gradient is exact for any forward pass (the fused ``qkv`` projection
and ``scaled_dot_product_attention`` included) and is handed to ``DPOptimizer`` as
``p.grad_sample``.

An example is one window of ``context + 1`` tokens of the token stream, cut without overlap;
the guarantee is per window. A canary planted ``r`` times sits in up to ``r`` windows, so it is
protected only at the group-privacy level ``r * epsilon`` -- which is why exposure of a
heavily repeated canary can survive a small ``epsilon`` and de-duplication still matters
(Carlini et al. 2019, "The Secret Sharer", section 9).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from advlab.lm.model import TinyGPT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DPConfig:
    """DP-SGD (DP-Adam) settings; ``epsilon = math.inf`` means clipping without noise."""

    epsilon: float = 8.0
    delta: float = 1e-5
    max_grad_norm: float = 1.0
    batch_size: int = 64
    """Expected batch size (Poisson sampling: ``q = batch_size / n_examples``)."""
    steps: int = 200
    lr: float = 1e-3
    seed: int = 0


def windows(data: torch.Tensor, context: int) -> torch.Tensor:
    """The token stream cut into non-overlapping ``(n, context + 1)`` examples."""
    n = (len(data) - 1) // context
    if n < 1:
        raise ValueError(f"{len(data)} tokens make no window of {context + 1}")
    starts = torch.arange(n) * context
    return torch.stack([data[s : s + context + 1] for s in starts.tolist()])


def per_sample_grads(
    model: TinyGPT, x: torch.Tensor, y: torch.Tensor
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """``({name: (B, *param.shape)}, (B,))``: the gradient of each row's mean next-token
    loss, and the losses."""
    from torch.func import functional_call, grad, vmap
    from torch.nn.attention import SDPBackend, sdpa_kernel

    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}

    def loss(
        p: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = functional_call(model, p, (xi.unsqueeze(0),))[0]
        value = F.cross_entropy(logits.float(), yi)
        return value, value.detach()

    with sdpa_kernel(SDPBackend.MATH):  # plain matmuls: vmap batches them (no fused kernel)
        grads, losses = vmap(grad(loss, has_aux=True), in_dims=(None, 0, 0))(params, x, y)
    return grads, losses


def noise_multiplier(cfg: DPConfig, sample_rate: float) -> float:
    """The noise that spends ``cfg.epsilon`` over ``cfg.steps`` steps (0 for ``inf``)."""
    if math.isinf(cfg.epsilon):
        return 0.0
    from opacus.accountants.utils import get_noise_multiplier

    return float(
        get_noise_multiplier(
            target_epsilon=cfg.epsilon,
            target_delta=cfg.delta,
            sample_rate=sample_rate,
            steps=cfg.steps,
            accountant="rdp",
        )
    )


def dp_train(
    model: TinyGPT, data: torch.Tensor, cfg: DPConfig, *, device: torch.device
) -> dict[str, Any]:
    """Train ``model`` (from its current weights) with DP-SGD on the windows of ``data``.

    Returns the accountant's ``epsilon`` at ``cfg.delta`` after the run (``inf`` without
    noise), the noise multiplier, the sample rate and the loss at the start and end.
    """
    from opacus.accountants import RDPAccountant
    from opacus.optimizers import DPOptimizer

    if cfg.epsilon <= 0 or not 0 < cfg.delta < 1 or cfg.max_grad_norm <= 0:
        raise ValueError("epsilon and max_grad_norm must be positive, delta in (0, 1)")
    examples = windows(data, model.cfg.context)
    n = len(examples)
    q = min(1.0, cfg.batch_size / n)
    sigma = noise_multiplier(cfg, q)
    gen = torch.Generator().manual_seed(cfg.seed)
    noise_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = DPOptimizer(
        torch.optim.Adam(params, lr=cfg.lr, betas=(0.9, 0.95)),
        noise_multiplier=sigma,
        max_grad_norm=cfg.max_grad_norm,
        expected_batch_size=cfg.batch_size,
        generator=noise_gen,
    )
    accountant = RDPAccountant()
    if sigma > 0:
        opt.attach_step_hook(accountant.get_optimizer_hook_fn(sample_rate=q))
    losses: list[float] = []
    t0 = time.perf_counter()
    names = [k for k, p in model.named_parameters() if p.requires_grad]
    for step in range(cfg.steps):
        pick = torch.rand(n, generator=gen) < q  # Poisson sampling
        batch = examples[pick].to(device)
        x, y = batch[:, :-1], batch[:, 1:]
        opt.zero_grad(set_to_none=True)
        if len(batch):
            grads, batch_losses = per_sample_grads(model, x, y)
            losses.append(float(batch_losses.mean()))
        else:
            grads = {k: p.new_zeros((0, *p.shape)) for k, p in zip(names, params, strict=True)}
        for k, p in zip(names, params, strict=True):
            p.grad_sample = grads[k]  # type: ignore[attr-defined]
        opt.step()
        if step % 50 == 0 or step == cfg.steps - 1:
            log.info("dp-sgd step %d/%d batch %d", step + 1, cfg.steps, len(batch))
    model.eval()
    eps = accountant.get_epsilon(cfg.delta) if sigma > 0 else math.inf
    return {
        "epsilon": eps,
        "target_epsilon": cfg.epsilon,
        "delta": cfg.delta,
        "noise_multiplier": sigma,
        "sample_rate": q,
        "examples": n,
        "seconds": time.perf_counter() - t0,
        "loss_first": losses[0] if losses else math.nan,
        "loss_last": losses[-1] if losses else math.nan,
    }


@torch.no_grad()
def held_out_loss(model: TinyGPT, data: torch.Tensor, *, batch: int = 64) -> float:
    """Mean next-token cross-entropy (nats per token) on the windows of ``data``;
    ``exp`` of it is the perplexity."""
    examples = windows(data, model.cfg.context).to(model.tok.weight.device)
    total, count = 0.0, 0
    for i in range(0, len(examples), batch):
        b = examples[i : i + batch]
        logits = model(b[:, :-1]).float()
        total += float(F.cross_entropy(logits.flatten(0, 1), b[:, 1:].flatten(), reduction="sum"))
        count += b[:, 1:].numel()
    return total / count

"""Many small models trained at once: ``torch.func.vmap`` over stacked parameters.

Membership-inference reference models (LiRA, RMIA, Shokri) and poisoning victims are many
copies of one small architecture, each with its own seed and its own subset of a shared data
pool. Training them one after another leaves a CPU idle between tiny matrix products;
stacking the copies' parameters (:func:`torch.func.stack_module_state`) and running
:func:`torch.func.functional_call` under :func:`torch.func.vmap` turns ``M`` small products
into one batched product per layer.

Each model keeps what makes it an independent training run:

* its own initial weights (``build(spec, seed=seeds[m])``, exactly as the serial trainer);
* its own data subset ``x[member[m]]`` and its own shuffling (a generator seeded by
  ``seeds[m]``);
* its own optimiser state -- Adam (Kingma & Ba 2015) is elementwise, so one Adam over the
  stacked tensors is ``M`` independent Adams; the loss is the sum of the models' mean
  cross-entropies, so each model's gradient is its own.

Within an epoch model ``m`` takes ``ceil(n_m / batch_size)`` steps over its own permutation
(the last batch partial, padding masked out of the loss); while larger models finish their
epoch, a model whose data ran out is frozen -- its Adam step counter does not advance (see
:class:`_StackedAdam`). With one full batch per epoch the result equals the serial loop's to
floating-point precision (tested); with minibatches only the shuffling order differs.
Modules with running statistics (batch normalisation) are refused: their in-place buffer
updates do not vectorise.

Multilayer perceptrons without dropout (``build``'s ``mlp``) take a fused path: each layer is
one ``torch.baddbmm`` over the stacked weights (:class:`advlab.models.fused.FusedMLP`). It
computes the same function as the ``vmap`` path (tested to 1e-5) with a handful of kernels
per step, and its backward pass is written out (:class:`advlab.models.fused.FusedMLPStep`)
into buffers reused every step. On models this small the optimiser's elementwise work costs
as much as the matrix products, so :class:`_StackedAdam` uses torch's fused Adam kernel on
runs of models that share a step count (models are ordered by their steps per epoch, so
each run is a contiguous slice).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from advlab.errors import ConfigError, InputError
from advlab.models.arch import build
from advlab.models.fused import FusedMLP, FusedMLPStep
from advlab.utils import resolve_device

log = logging.getLogger(__name__)


@dataclass
class StackedModels:
    """``M`` models of one architecture whose parameters are stacked on a leading axis."""

    base: nn.Module
    params: dict[str, torch.Tensor]
    buffers: dict[str, torch.Tensor]

    @property
    def n_models(self) -> int:
        return int(next(iter(self.params.values())).shape[0])

    def _call(self, x: torch.Tensor, shared: bool) -> torch.Tensor:
        def one(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], xb: torch.Tensor) -> Any:
            return functional_call(self.base, (p, b), (xb,))

        in_dims = (0, 0, None if shared else 0)
        return vmap(one, in_dims=in_dims, randomness="different")(  # type: ignore[no-any-return]
            self.params, self.buffers, x
        )

    @torch.no_grad()
    def predict(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Logits of every model on the same inputs: ``(M, N, C)`` float64."""
        dev = next(iter(self.params.values())).device
        outs = []
        for start in range(0, len(x), batch_size):
            xb = torch.as_tensor(np.asarray(x[start : start + batch_size]), dtype=torch.float32)
            outs.append(self._call(xb.to(dev), shared=True).double().cpu())
        return torch.cat(outs, dim=1).numpy()  # type: ignore[no-any-return]

    def module(self, m: int) -> nn.Module:
        """Model ``m`` as an ordinary module (a copy, on the CPU, in eval mode)."""
        model = copy.deepcopy(self.base).to_empty(device="cpu")
        state = {k: v[m].detach().cpu() for k, v in {**self.params, **self.buffers}.items()}
        model.load_state_dict(state)
        return model.eval()


class _StackedAdam:
    """Adam (Kingma & Ba 2015) with one step counter per stacked model.

    The update is torch's ``Adam`` (L2 ``weight_decay`` added to the gradient, bias-corrected
    moments, ``eps`` added to the corrected second-moment root), applied only to the models
    that had a batch this step: a model whose data ran out earlier in the epoch keeps its
    parameters and moments, exactly as if it had stopped.

    Where torch provides its fused Adam kernel (``torch._fused_adam_``, one pass over each
    tensor; CPU from torch 2.4, CUDA), each run of consecutive models that are active and
    share a step count is updated by one call on slices of the stacked tensors; otherwise
    an elementwise update with per-model factors does the same.
    """

    def __init__(
        self,
        params: dict[str, torch.Tensor],
        *,
        lr: float,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params.values())
        self.lr, self.wd, self.betas, self.eps = lr, weight_decay, betas, eps
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = np.zeros(len(self.params[0]), dtype=np.int64)
        self.kernel = _fused_adam_kernel(self.params[0].device)
        # scratch space for the elementwise update, reused every step
        self.scratch = (
            [(torch.empty_like(p), torch.empty_like(p)) for p in self.params]
            if self.kernel is None
            else []
        )

    def zero_grad(self) -> None:
        for p in self.params:  # zeroed in place (kept allocated) rather than dropped
            if p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self, active: np.ndarray, grads: list[torch.Tensor] | None = None) -> None:
        """Update the models where ``active`` (host booleans, one per model) with ``grads``
        (default: each parameter's ``.grad``)."""
        gs = grads if grads is not None else [p.grad for p in self.params]
        self.t[active] += 1
        if self.kernel is not None:
            self._fused(active, gs)  # type: ignore[arg-type]
        else:
            self._elementwise(active, gs)  # type: ignore[arg-type]

    def _fused(self, active: np.ndarray, grads: list[torch.Tensor]) -> None:
        n, a = len(self.t), 0
        while a < n:
            b = a + 1
            while b < n and active[b] == active[a] and self.t[b] == self.t[a]:
                b += 1
            if active[a]:
                step = torch.tensor(float(self.t[a]), device=self.params[0].device)
                self.kernel(  # type: ignore[misc]
                    [p[a:b] for p in self.params],
                    [g[a:b] for g in grads],
                    [m[a:b] for m in self.m],
                    [v[a:b] for v in self.v],
                    [],
                    [step] * len(self.params),
                    lr=self.lr,
                    beta1=self.betas[0],
                    beta2=self.betas[1],
                    weight_decay=self.wd,
                    eps=self.eps,
                    amsgrad=False,
                    maximize=False,
                )
            a = b

    def _elementwise(self, active: np.ndarray, grads: list[torch.Tensor]) -> None:
        # A model without a batch this step keeps its moments (beta = 1) and its parameters
        # (zero step size); weight decay is applied to active models only.
        dev = self.params[0].device
        b1, b2 = self.betas
        act = torch.as_tensor(active, device=dev)
        on = act.to(torch.float32)
        t = torch.as_tensor(self.t, device=dev, dtype=torch.float32).clamp(min=1)
        beta1 = torch.where(act, b1, 1.0)
        beta2 = torch.where(act, b2, 1.0)
        step_size = on * self.lr / (1 - b1**t)
        inv_corr2 = (1 - b2**t).rsqrt()
        for p, g, m, v, (denom, upd) in zip(
            self.params, grads, self.m, self.v, self.scratch, strict=True
        ):
            if g is None:
                continue
            shape = (-1,) + (1,) * (p.dim() - 1)
            if self.wd:
                torch.mul(p, (self.wd * on).view(shape), out=upd)
                g = upd.add_(g)
            m.mul_(beta1.view(shape)).add_(g, alpha=1 - b1)
            v.mul_(beta2.view(shape)).addcmul_(g, g, value=1 - b2)
            torch.sqrt(v, out=denom).mul_(inv_corr2.view(shape)).add_(self.eps)
            torch.div(m, denom, out=upd).mul_(step_size.view(shape))
            p.sub_(upd)


def _fused_adam_kernel(device: torch.device) -> Any:
    """torch's fused Adam kernel if it runs on ``device`` (CPU from torch 2.4, CUDA), else
    None; found out once with a one-element update."""
    kernel = getattr(torch, "_fused_adam_", None)
    if kernel is None or device.type not in ("cpu", "cuda"):
        return None
    one = [torch.zeros(1, device=device) for _ in range(4)]
    try:
        kernel(
            *[[t] for t in one],
            [],
            [torch.ones((), device=device)],
            lr=0.0,
            beta1=0.9,
            beta2=0.999,
            weight_decay=0.0,
            eps=1e-8,
            amsgrad=False,
            maximize=False,
        )
    except (RuntimeError, NotImplementedError) as err:  # not built for this device
        log.debug("fused Adam unavailable on %s (%s); using the elementwise update", device, err)
        return None
    return kernel


def _check_vectorisable(model: nn.Module) -> None:
    for name, mod in model.named_modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            raise ConfigError(
                f"module {name or type(mod).__name__} keeps running statistics, which do not "
                "vectorise; train these models one at a time"
            )


def train_stacked(
    spec: dict[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    member: np.ndarray,
    seeds: list[int],
    *,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    device: str | torch.device = "cpu",
    fused: bool | None = None,
) -> StackedModels:
    """Train ``len(seeds)`` models of ``spec``, model ``m`` on ``x[member[m]]``.

    ``member`` is a boolean ``(M, N)`` matrix; the result's ``predict`` returns ``(M, N, C)``
    logits. The hyper-parameters mean what they mean in :class:`advlab.models.TrainConfig`.
    ``fused`` chooses the fused MLP path: ``None`` (default) takes it whenever the architecture
    allows, ``False`` always uses ``vmap``, ``True`` insists (an error for other models).
    """
    member = np.asarray(member, dtype=bool)
    n_models = len(seeds)
    if member.shape != (n_models, len(x)):
        raise InputError(f"member has shape {member.shape}; expected ({n_models}, {len(x)})")
    if len(x) != len(y):
        raise InputError(f"{len(x)} inputs but {len(y)} labels")
    counts = member.sum(axis=1)
    if counts.min() < 1:
        raise InputError("every model needs at least one training example")
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise ConfigError("epochs and batch_size must be >= 1 and lr > 0")
    dev = resolve_device(device)
    # Models that take the same number of steps per epoch share their Adam step count at
    # every step; ordering them by it makes each such group one contiguous slice.
    order_models = np.argsort(-(-counts // batch_size), kind="stable")
    seeds = [seeds[j] for j in order_models]
    member = member[order_models]
    models = [build(spec, seed=int(s)).to(dev) for s in seeds]
    _check_vectorisable(models[0])
    params, buffers = stack_module_state(models)  # type: ignore[arg-type]
    base = copy.deepcopy(models[0]).to("meta")
    stacked = StackedModels(base, params, buffers)
    chain = FusedMLP.of(models[0]) if fused is not False else None
    if fused and chain is None:
        raise ConfigError("fused=True needs a dropout-free MLP (build's 'mlp' architecture)")
    trained = chain.to_training(params) if chain is not None else params
    by_hand = FusedMLPStep(chain, trained, batch_size) if chain is not None else None
    adam = _StackedAdam(trained, lr=lr, weight_decay=weight_decay)
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32, device=dev)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.long, device=dev)
    pools = [np.flatnonzero(row) for row in member]
    gens = [np.random.default_rng(int(s)) for s in seeds]
    steps = math.ceil(int(counts.max()) / batch_size)
    width = steps * batch_size
    start = time.perf_counter()
    base.train()
    for _ in range(epochs):
        order = np.full((n_models, width), -1, dtype=np.int64)
        for m, (pool, gen) in enumerate(zip(pools, gens)):
            order[m, : len(pool)] = gen.permutation(pool)
        order_t = torch.as_tensor(order, device=dev)
        for step in range(steps):
            window = slice(step * batch_size, (step + 1) * batch_size)
            idx = order_t[:, window]  # (M, B); -1 = none
            active: np.ndarray = np.asarray((order[:, window] >= 0).any(axis=1))
            real = (idx >= 0).to(torch.float32)
            safe = idx.clamp(min=0)
            if by_hand is not None:
                weight = real / real.sum(1, keepdim=True).clamp(min=1.0)
                grads = by_hand(xt, yt, safe, weight)
                adam.step(active, [grads[k] for k in trained])
                continue
            logits = stacked._call(xt[safe], shared=False)  # (M, B, C)
            ce = F.cross_entropy(logits.flatten(0, 1), yt[safe].flatten(), reduction="none")
            loss = ((ce.view(n_models, -1) * real).sum(1) / real.sum(1).clamp(min=1.0)).sum()
            adam.zero_grad()
            loss.backward()
            adam.step(active)
    base.eval()
    log.info(
        "trained %d stacked models (%d epochs x %d steps) in %.1fs",
        n_models,
        epochs,
        steps,
        time.perf_counter() - start,
    )
    if chain is not None:
        params = chain.from_training(trained)
    back = torch.as_tensor(np.argsort(order_models), device=dev)
    stacked.params = params = {k: v.detach()[back] for k, v in params.items()}
    stacked.buffers = {k: v[back] for k, v in buffers.items()}
    for v in params.values():
        v.requires_grad_(False)
    return stacked

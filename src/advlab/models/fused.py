"""A stack of dropout-free MLPs run as batched matrix products.

:func:`advlab.models.vectorized.train_stacked` trains ``M`` copies of one architecture at
once. For the ``mlp`` architecture (``Flatten``, then ``Linear``/``ReLU`` pairs, then a
``Linear`` head) :class:`FusedMLP` computes layer ``l`` of all models with a single
``torch.baddbmm(b_l, h, W_l^T)`` over the stacked weights: a few kernels per step whatever
``M`` is, where ``vmap`` adds its own bookkeeping around every operator.
:class:`FusedMLPStep` is its training step with the backward pass written out, every
activation and gradient in a buffer reused from step to step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from advlab.models.arch import MLP


@dataclass(frozen=True)
class FusedMLP:
    """An MLP's ``Linear`` layers as ``(weight name, bias name)`` pairs in forward order."""

    layers: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, model: nn.Module) -> FusedMLP | None:
        """The layout of ``model`` if it is a dropout-free :class:`~advlab.models.arch.MLP`,
        else None (the caller falls back to ``vmap``)."""
        if type(model) is not MLP:
            return None
        kinds = [type(m) for m in model.body] + [type(model.out)]
        allowed = {nn.Flatten, nn.Linear, nn.ReLU}
        if not set(kinds) <= allowed or kinds[0] is not nn.Flatten:
            return None
        linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        named = list(model.named_parameters())
        names = tuple(n for n, _ in named)
        if names != tuple(f"{ln}.{p}" for ln in linears for p in ("weight", "bias")):
            return None
        return cls(layers=tuple((f"{ln}.weight", f"{ln}.bias") for ln in linears))

    def to_training(self, params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Leaf tensors to train: biases as they are, weights stored ``(M, in, out)`` so that
        ``h @ W`` and its gradient need no transposed copies."""
        weights = {w for w, _ in self.layers}
        return {
            k: (
                v.detach().transpose(1, 2).contiguous() if k in weights else v.detach().clone()
            ).requires_grad_(True)
            for k, v in params.items()
        }

    def from_training(self, trained: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The trained leaves back in ``nn.Linear``'s ``(M, out, in)`` layout."""
        weights = {w for w, _ in self.layers}
        return {
            k: (v.detach().transpose(1, 2).contiguous() if k in weights else v.detach())
            for k, v in trained.items()
        }

    def forward(self, p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """Logits ``(M, B, C)`` of stacked models ``p`` (:meth:`to_training`'s layout) on
        their own batches ``x`` of shape ``(M, B, ...)``."""
        h = x.flatten(2)
        last = len(self.layers) - 1
        for i, (w, b) in enumerate(self.layers):
            h = torch.baddbmm(p[b].unsqueeze(1), h, p[w])
            if i < last:
                h = torch.relu(h)
        return h


class FusedMLPStep:
    """One training step of a :class:`FusedMLP` stack, forward and backward by hand.

    Autograd would allocate every activation and gradient afresh each step and zero the
    parameter gradients before accumulating into them; on models this small that costs as
    much as the products themselves. Here every activation, pre-activation gradient and
    parameter gradient lives in a buffer allocated once, and each product writes into its
    buffer (``out=``). The loss is each model's mean cross-entropy over its real examples
    (``weight`` is ``1 / n_real`` on real examples, 0 on padding), summed over models, so
    model ``m``'s gradient is its own.
    """

    def __init__(self, chain: FusedMLP, params: dict[str, torch.Tensor], batch_size: int) -> None:
        self.weights = [params[w] for w, _ in chain.layers]
        self.biases = [params[b] for _, b in chain.layers]
        m, first = self.weights[0].shape[0], self.weights[0].shape[1]
        dev, dt = self.weights[0].device, self.weights[0].dtype
        widths = [w.shape[2] for w in self.weights]
        self.x = torch.empty(m, batch_size, first, device=dev, dtype=dt)
        self.h = [torch.empty(m, batch_size, k, device=dev, dtype=dt) for k in widths]
        self.dz = [torch.empty(m, batch_size, k, device=dev, dtype=dt) for k in widths]
        self.grads = {}
        for (wn, bn), w, b in zip(chain.layers, self.weights, self.biases, strict=True):
            self.grads[wn] = torch.zeros_like(w)
            self.grads[bn] = torch.zeros_like(b)
        self.gw = [self.grads[w] for w, _ in chain.layers]
        self.gb = [self.grads[b] for _, b in chain.layers]

    @torch.no_grad()
    def __call__(
        self, xt: torch.Tensor, yt: torch.Tensor, idx: torch.Tensor, weight: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Gradients (into :attr:`grads`) for batch ``idx`` ``(M, B)`` of rows of ``xt``."""
        m, b = idx.shape
        torch.index_select(xt.flatten(1), 0, idx.flatten(), out=self.x.view(m * b, -1))
        h = self.x
        last = len(self.weights) - 1
        for i, (w, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            torch.baddbmm(bias.unsqueeze(1), h, w, out=self.h[i])
            if i < last:
                self.h[i].clamp_(min=0)
            h = self.h[i]
        dz = self.dz[last]
        dz.copy_(torch.softmax(h, dim=2))
        dz.scatter_add_(2, yt[idx].unsqueeze(2), dz.new_full((m, b, 1), -1.0))
        dz.mul_(weight.unsqueeze(2))
        for i in range(last, -1, -1):
            below = self.x if i == 0 else self.h[i - 1]
            torch.bmm(below.transpose(1, 2), self.dz[i], out=self.gw[i])
            torch.sum(self.dz[i], dim=1, out=self.gb[i])
            if i > 0:
                torch.bmm(self.dz[i], self.weights[i].transpose(1, 2), out=self.dz[i - 1])
                # ReLU's derivative, in place (one pass; a boolean mask costs far more)
                torch.ops.aten.threshold_backward.grad_input(
                    self.dz[i - 1], below, 0.0, grad_input=self.dz[i - 1]
                )
        return self.grads

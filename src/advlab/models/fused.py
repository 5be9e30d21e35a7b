"""A stack of dropout-free MLPs run as batched matrix products.

:func:`advlab.models.vectorized.train_stacked` trains ``M`` copies of one architecture at
once. For the ``mlp`` architecture (``Flatten``, then ``Linear``/``ReLU`` pairs, then a
``Linear`` head) :class:`FusedMLP` computes layer ``l`` of all models with a single
``torch.baddbmm(b_l, h, W_l^T)`` over the stacked weights: a few kernels per step whatever
``M`` is, where ``vmap`` adds its own bookkeeping around every operator.
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

"""A stack of dropout-free MLPs run as batched matrix products over one parameter tensor.

:func:`advlab.models.vectorized.train_stacked` trains ``M`` copies of one architecture at
once. For the ``mlp`` architecture (``Flatten``, then ``Linear``/``ReLU`` pairs, then a
``Linear`` head) :class:`FusedMLP` lays every model's parameters out as one row of an
``(M, P)`` tensor and computes layer ``l`` for all models with a single
``torch.baddbmm(b_l, h, W_l^T)``: a few kernels per step whatever ``M`` is, and one
optimiser update over a single tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from advlab.models.arch import MLP


@dataclass(frozen=True)
class FusedMLP:
    """The layout of an MLP's parameters in a flat row: ``(name, shape)`` in order, the
    ``Linear`` layers as ``(weight name, bias name)`` pairs in forward order."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
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
        return cls(
            names=names,
            shapes=tuple(tuple(p.shape) for _, p in named),
            layers=tuple((f"{ln}.weight", f"{ln}.bias") for ln in linears),
        )

    def flatten(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Stacked parameters ``{name: (M, *shape)}`` as one leaf ``(M, P)`` tensor."""
        rows = [params[n].detach().flatten(1) for n in self.names]
        return torch.cat(rows, dim=1).contiguous().requires_grad_(True)

    def views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """``flat``'s columns as ``{name: (M, *shape)}`` views (gradients flow to ``flat``)."""
        out, start = {}, 0
        for name, shape in zip(self.names, self.shapes):
            size = 1
            for d in shape:
                size *= d
            out[name] = flat[:, start : start + size].view(flat.shape[0], *shape)
            start += size
        return out

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Independent ``{name: (M, *shape)}`` copies of ``flat``'s parameters."""
        return {k: v.detach().clone() for k, v in self.views(flat).items()}

    def forward(self, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(M, B, C)`` of every model on its own batch ``x`` of shape ``(M, B, ...)``."""
        p = self.views(flat)
        h = x.flatten(2)
        last = len(self.layers) - 1
        for i, (w, b) in enumerate(self.layers):
            h = torch.baddbmm(p[b].unsqueeze(1), h, p[w].transpose(1, 2))
            if i < last:
                h = torch.relu(h)
        return h

"""Adapter for any prediction function (black-box)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from advlab.access import Access
from advlab.errors import ConfigError
from advlab.targets.base import BoundsLike, OutputKind, Target
from advlab.utils import resolve_device
from advlab.vocab import renamed_params


class FunctionClassifier(Target):
    """Wraps ``predict_fn(x: np.ndarray) -> np.ndarray``.

    ``returns`` says what the function gives back: ``"logits"``, ``"probs"`` (both of shape
    ``(N, num_classes)``, scores access) or ``"labels"`` (shape ``(N,)``, label access).
    ``dtype`` is the precision the function computes in (default float32; pass
    ``torch.float64`` for a float64 model): inputs are handed over in it and its outputs
    keep it. ``query_budget``: optional total number of points answered (deprecated alias
    ``max_queries``).
    """

    @renamed_params(max_queries="query_budget")
    def __init__(
        self,
        predict_fn: Callable[[np.ndarray], Any],
        *,
        input_shape: tuple[int, ...],
        num_classes: int,
        bounds: BoundsLike = (0.0, 1.0),
        returns: str = "probs",
        device: str | torch.device = "cpu",
        query_budget: int | None = None,
        batch_size: int = 512,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if returns not in ("logits", "probs", "labels"):
            raise ConfigError(f"returns must be logits, probs or labels, got {returns!r}")
        self.predict_fn = predict_fn
        self.returns = returns
        self.access = Access.LABELS if returns == "labels" else Access.SCORES
        out: OutputKind = "logits" if returns == "logits" else "probs"
        self.output = out
        super().__init__(
            bounds=bounds,
            input_shape=input_shape,
            num_classes=num_classes,
            device=resolve_device(device),
            query_budget=query_budget,
            batch_size=batch_size,
            dtype=dtype,
        )

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        out = np.asarray(self.predict_fn(x.detach().to(self.dtype).cpu().numpy()))
        if self.returns == "labels":
            out = np.eye(self.num_classes)[out.astype(int).reshape(-1)]
        if out.shape != (len(x), self.num_classes):
            raise ConfigError(
                f"predict_fn returned shape {out.shape}; expected ({len(x)}, {self.num_classes})"
            )
        return torch.as_tensor(out, dtype=self.dtype, device=self.device)

"""Shared interface of data-level poison detectors.

Every detector implements ``detect(x, y, *, model=None, poison_indices=None) -> Detection``:
it flags training points it believes poisoned. When the true ``poison_indices`` are given,
the :class:`Detection` reports precision, recall and the fraction of clean data removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from advlab.defenses.base import Defense
from advlab.errors import InputError
from advlab.results import Result


@dataclass
class Detection(Result):
    """Flagged training points (``flagged``: sorted indices; ``scores``: higher = more suspect).

    With ground truth: ``precision`` (flagged points that are poisons), ``recall`` (poisons
    flagged) and ``clean_removed`` (fraction of clean points flagged).
    """

    type_name: ClassVar[str] = "poison_detection"

    flagged: Any = None
    scores: Any = None
    n: int = 0
    precision: float = float("nan")
    recall: float = float("nan")
    clean_removed: float = float("nan")
    info: dict[str, Any] = field(default_factory=dict)

    def keep_mask(self) -> np.ndarray:
        """Boolean mask of the points kept after removing the flagged ones."""
        m = np.ones(self.n, dtype=bool)
        m[np.asarray(self.flagged, dtype=np.int64)] = False
        return m

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(
            n=self.n,
            flagged=0 if self.flagged is None else len(self.flagged),
            precision=self.precision,
            recall=self.recall,
            clean_removed=self.clean_removed,
        )
        return s


def score_detection(flagged: np.ndarray, n: int, poison_indices: Any) -> tuple[float, float, float]:
    """Precision, recall and clean-removed fraction of ``flagged`` against the truth."""
    truth = np.zeros(n, dtype=bool)
    truth[np.asarray(poison_indices, dtype=np.int64)] = True
    flag = np.zeros(n, dtype=bool)
    flag[np.asarray(flagged, dtype=np.int64)] = True
    tp = int((flag & truth).sum())
    precision = tp / int(flag.sum()) if flag.any() else float("nan")
    recall = tp / int(truth.sum()) if truth.any() else float("nan")
    clean = int((~truth).sum())
    clean_removed = int((flag & ~truth).sum()) / clean if clean else 0.0
    return precision, recall, clean_removed


def embed_fn(model: Any) -> Any:
    """Penultimate representation of ``model`` (its ``embed`` method; a TorchClassifier's
    module's ``embed``), used by the representation-based detectors."""
    m = getattr(model, "model", model)
    if hasattr(m, "embed"):
        return m.embed
    raise InputError(
        f"{type(m).__name__} has no embed(x) method returning penultimate features; wrap it "
        "or pass a model with one (advlab's SmallCNN and MLP have it)"
    )


def layer_fn(model: Any, layer: str) -> Any:
    """``penultimate`` (``embed``) or ``features`` (the module's ``features`` block, e.g. the
    convolutional trunk of advlab's SmallCNN; falls back to ``penultimate`` when absent)."""
    m = getattr(model, "model", model)
    if layer == "features" and isinstance(getattr(m, "features", None), nn.Module):
        return m.features
    if layer not in ("features", "penultimate"):
        raise InputError(f"layer must be 'features' or 'penultimate', got {layer!r}")
    return embed_fn(model)


@torch.no_grad()
def representations(
    model: Any, x: np.ndarray, batch_size: int = 512, layer: str = "penultimate"
) -> np.ndarray:
    f = layer_fn(model, layer)
    m = getattr(model, "model", model)
    dev = next(m.parameters()).device if isinstance(m, nn.Module) else torch.device("cpu")
    out = []
    for s in range(0, len(x), batch_size):
        out.append(f(torch.as_tensor(x[s : s + batch_size], dtype=torch.float32, device=dev)).cpu())
    return torch.cat(out).flatten(1).numpy().astype(np.float64)


class PoisonDetector(Defense):
    """Base of data-level detectors (``kind = "detector"``, ``threat = "poisoning"``)."""

    role: ClassVar[str] = "detector"
    threat: ClassVar[str] = "poisoning"

    def detect(
        self, x: Any, y: Any, *, model: Any = None, poison_indices: Any = None
    ) -> Detection:  # pragma: no cover - interface
        raise NotImplementedError

    def _finish(
        self, flagged: np.ndarray, scores: np.ndarray, n: int, poison_indices: Any, **info: Any
    ) -> Detection:
        flagged = np.sort(np.asarray(flagged, dtype=np.int64))
        p = r = c = float("nan")
        if poison_indices is not None:
            p, r, c = score_detection(flagged, n, poison_indices)
        return Detection(
            attack=self.name,
            params=self.get_params(),
            flagged=flagged,
            scores=np.asarray(scores, dtype=np.float64),
            n=n,
            precision=p,
            recall=r,
            clean_removed=c,
            info=info,
        )

    @staticmethod
    def _data(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        xa = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
        ya = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y).astype(np.int64)
        if ya.ndim != 1 or len(ya) != len(xa):
            raise InputError(f"y must be a 1-D array of {len(xa)} labels, got shape {ya.shape}")
        return xa, ya

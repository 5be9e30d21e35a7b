"""Shared interface of data-level poison detectors.

Every detector implements ``detect(x, y, *, model=None, poison_indices=None, clean=None) ->
Detection``: it flags training points it believes poisoned. When the true ``poison_indices``
are given, the :class:`Detection` reports precision, recall and the fraction of clean data
removed. ``detect`` is :meth:`PoisonDetector.statistic` (a per-point statistic on the training
data and on the optional clean held-out set ``clean=(x_clean, y_clean)``) followed by
:meth:`PoisonDetector.decide` (the threshold rule chosen by the detector's ``calibration``
option, see :mod:`advlab.defenses.poison.calibration`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from advlab.defenses.base import Defense
from advlab.defenses.poison.calibration import (
    PoisonStatistic,
    check_rule,
    clean_flags,
    robust_flags,
)
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
    """Base of data-level detectors (``kind = "detector"``, ``threat = "poisoning"``).

    Subclasses implement :meth:`statistic` and take the constructor options ``calibration``
    (``default`` | ``clean`` | ``robust``) and ``fpr`` (the target clean-removal rate of the
    ``clean`` rule). ``per_class_rule`` says whether thresholds are set per class.
    """

    role: ClassVar[str] = "detector"
    threat: ClassVar[str] = "poisoning"
    per_class_rule: ClassVar[bool] = True
    calibration: str = "default"
    fpr: float = 0.05

    def statistic(
        self, x: Any, y: Any, *, model: Any = None, clean: Any = None
    ) -> PoisonStatistic:  # pragma: no cover - interface
        raise NotImplementedError

    def detect(
        self,
        x: Any,
        y: Any,
        *,
        model: Any = None,
        poison_indices: Any = None,
        clean: Any = None,
    ) -> Detection:
        """Flag training points of ``(x, y)`` with the ``calibration`` rule.

        ``clean=(x_clean, y_clean)``: a clean held-out set the model did not train on (needed
        by ``calibration="clean"``; the other rules use it only where the detector's
        statistic does, e.g. STRIP's overlays, Neural Cleanse's trigger reversal).
        """
        check_rule(self.calibration, self.fpr)
        if self.calibration == "clean" and clean is None:
            raise InputError(
                f"{self.name}: calibration='clean' needs a clean held-out set: "
                "detect(x, y, model=..., clean=(x_clean, y_clean))"
            )
        return self.decide(self.statistic(x, y, model=model, clean=clean), poison_indices)

    def decide(
        self,
        st: PoisonStatistic,
        poison_indices: Any = None,
        *,
        calibration: str | None = None,
        fpr: float | None = None,
    ) -> Detection:
        """Apply a threshold rule to a computed statistic (``calibration`` / ``fpr`` default
        to the detector's options), so several rules can share one statistic."""
        mode = self.calibration if calibration is None else calibration
        rate = float(self.fpr if fpr is None else fpr)
        check_rule(mode, rate)
        info: dict[str, Any] = {**st.info, "calibration": mode}
        if mode == "default":
            flags = np.asarray(st.default, dtype=np.int64)
        elif mode == "clean":
            flags, info["thresholds"] = clean_flags(st, rate, per_class=self.per_class_rule)
            info["fpr"] = rate
        else:
            flags = robust_flags(st, per_class=self.per_class_rule)
        return self._finish(flags, st.scores, len(st.y), poison_indices, **info)

    def _inputs(
        self, x: Any, y: Any, model: Any, clean: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """The checked training data and optional clean held-out set of :meth:`statistic`
        (every detector needs the model trained on the data)."""
        if model is None:
            raise InputError(f"{self.name} needs the model trained on the data (model=...)")
        xa, ya = self._data(x, y)
        if clean is None:
            return xa, ya, None, None
        xc, yc = self._clean(clean, xa.shape[1:])
        return xa, ya, xc, yc

    @staticmethod
    def _clean(clean: Any, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Validate ``clean=(x_clean, y_clean)`` against training inputs of ``shape``."""
        if not isinstance(clean, (tuple, list)) or len(clean) != 2:
            raise InputError("clean must be a pair (x_clean, y_clean)")
        xc, yc = PoisonDetector._data(*clean)
        if xc.shape[1:] != tuple(shape):
            raise InputError(
                f"clean inputs have shape {xc.shape[1:]}, the training inputs {tuple(shape)}"
            )
        if len(xc) == 0:
            raise InputError("the clean held-out set is empty")
        return xc, yc

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

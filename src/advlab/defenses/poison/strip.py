"""STRIP: run-time detection of triggered inputs.

Gao, Xu, Wang, Chen, Ranasinghe & Nepal, "STRIP: A Defence Against Trojan Attacks on Deep
Neural Networks", ACSAC 2019 (https://arxiv.org/abs/1902.06531). Superimpose ``n_overlay``
(~20) random clean inputs on a suspect input and average the entropy of the model's
predictions: a trigger dominates the blends, so triggered inputs give low entropy. The
threshold is the ``frr`` quantile (false-rejection rate) of clean inputs' entropies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from advlab.defenses.base import Defense
from advlab.errors import ConfigError, InputError
from advlab.registry import register_defense
from advlab.results import Result


@dataclass
class StripResult(Result):
    """Per input: ``entropy`` (mean over blends) and ``flagged`` (entropy < threshold)."""

    type_name: ClassVar[str] = "strip"

    entropy: Any = None
    flagged: Any = None
    threshold: float = 0.0


@register_defense
class Strip(Defense):
    """STRIP detector (inference time).

    Args:
        n_overlay: clean inputs blended with each suspect input.
        frr: accepted false-rejection rate on clean inputs (sets the threshold).
        seed: seeds which clean inputs are blended.

    Example:
        >>> strip = Strip().fit(model, x_clean)
        >>> strip.detect_inputs(x_suspect).flagged
    """

    name = "strip"
    role = "detector"
    threat = "poisoning"
    paper = "Gao et al. 2019, arXiv:1902.06531"
    summary = "Flag inputs whose predictions stay confident under superimposed clean inputs."
    link = "arXiv:1902.06531"
    flags = frozenset({"data_level", "randomized"})

    def __init__(self, *, n_overlay: int = 20, frr: float = 0.05, seed: int = 0) -> None:
        self.n_overlay = n_overlay
        self.frr = frr
        self.seed = seed

    def _entropy(self, x: np.ndarray) -> np.ndarray:
        m = self.model_
        dev = next(m.parameters()).device
        rng = np.random.default_rng(self.seed)
        pool = self.clean_
        out = np.zeros(len(x))
        with torch.no_grad():
            for i in range(len(x)):
                others = pool[rng.choice(len(pool), size=self.n_overlay, replace=False)]
                blend = np.clip(x[i][None] + others, 0.0, None) / 2.0
                p = torch.softmax(m(torch.as_tensor(blend, dtype=torch.float32, device=dev)), 1)
                ent = -(p * torch.log(p.clamp_min(1e-12))).sum(1)
                out[i] = float(ent.mean())
        return out

    def fit(self, model: Any, x_clean: Any) -> Strip:
        """Store the model and clean inputs; set the threshold at the ``frr`` quantile of
        clean entropies."""
        m = getattr(model, "model", model)
        if not isinstance(m, nn.Module):
            raise InputError(
                f"strip needs a torch model or TorchClassifier, got {type(model).__name__}"
            )
        if not 0 < float(self.frr) < 1:
            raise ConfigError(f"strip: frr must be in (0, 1), got {self.frr!r}")
        xc = np.asarray(x_clean, dtype=np.float32)
        if len(xc) < self.n_overlay + 1:
            raise InputError(
                f"strip needs more than n_overlay={self.n_overlay} clean inputs, got {len(xc)}"
            )
        self.model_ = m.eval()
        self.clean_ = xc
        self.threshold_ = float(np.quantile(self._entropy(xc), float(self.frr)))
        return self

    def detect_inputs(self, x: Any) -> StripResult:
        if not hasattr(self, "threshold_"):
            raise ConfigError("strip: call fit(model, x_clean) before detect_inputs")
        ent = self._entropy(np.asarray(x, dtype=np.float32))
        return StripResult(
            attack=self.name,
            params=self.get_params(),
            entropy=ent,
            flagged=ent < self.threshold_,
            threshold=self.threshold_,
        )

"""Adapter for scikit-learn classifiers.

Linear models (``coef_``/``intercept_``) and ``MLPClassifier`` are converted to an exact
PyTorch equivalent, so they get true gradients (white-box); any other estimator is reached
through ``predict_proba`` / ``decision_function`` (scores) or ``predict`` (labels).
A ``Pipeline`` whose leading steps are ``StandardScaler``/``MinMaxScaler`` is folded in.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import nn

from advlab.access import Access
from advlab.errors import ConfigError
from advlab.targets.base import BoundsLike, Objective, Target
from advlab.utils import resolve_device
from advlab.vocab import renamed_params

log = logging.getLogger(__name__)


class _Affine(nn.Module):
    def __init__(self, scale: np.ndarray, shift: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float64))
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float64))

    scale: torch.Tensor
    shift: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


class _Binary(nn.Module):
    """Turns one decision value into two-class logits ``[0, z]`` (softmax == sigmoid)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.zeros_like(z), z], dim=1)


_ACTS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
}


def _linear(w: np.ndarray, b: np.ndarray) -> nn.Linear:
    layer = nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(w, dtype=torch.float64))
        layer.bias.copy_(torch.as_tensor(np.atleast_1d(b), dtype=torch.float64))
    return layer


def _scaler_module(step: Any) -> nn.Module | None:
    name = type(step).__name__
    if name == "StandardScaler":
        scale = 1.0 / np.where(step.scale_ is None, 1.0, step.scale_)
        mean = step.mean_ if step.mean_ is not None else 0.0
        return _Affine(scale, -mean * scale)
    if name == "MinMaxScaler":
        return _Affine(step.scale_, step.min_)
    return None


def sklearn_to_torch(estimator: Any) -> nn.Module | None:
    """An exact float64 torch module returning logits for supported estimators, else ``None``
    (scikit-learn computes in float64; the twin keeps that precision)."""
    pre: list[nn.Module] = []
    est = estimator
    if type(estimator).__name__ == "Pipeline":
        *head, (_, est) = estimator.steps
        for _, step in head:
            mod = _scaler_module(step)
            if mod is None:
                return None
            pre.append(mod)
    name = type(est).__name__
    layers: list[nn.Module] = []
    if name == "MLPClassifier":
        act = _ACTS.get(est.activation)
        if act is None:
            return None
        for i, (w, b) in enumerate(zip(est.coefs_, est.intercepts_)):
            layers.append(_linear(w.T, b))
            if i < len(est.coefs_) - 1:
                layers.append(act())
        if est.out_activation_ == "logistic":
            layers.append(_Binary())
        elif est.out_activation_ != "softmax":
            return None
    elif hasattr(est, "coef_") and hasattr(est, "intercept_") and hasattr(est, "classes_"):
        coef = np.atleast_2d(est.coef_)
        layers.append(_linear(coef, est.intercept_))
        if coef.shape[0] == 1:
            layers.append(_Binary())
    else:
        return None
    return nn.Sequential(*pre, *layers).eval()


class SklearnClassifier(Target):
    """A fitted scikit-learn classifier.

    White-box (exact gradients via a torch twin) for linear models and ``MLPClassifier``;
    scores through ``predict_proba``/``decision_function`` otherwise; labels only for
    estimators with neither. Labels must be ``0..K-1``. Like scikit-learn it computes in
    float64: inputs are converted to float64 and outputs stay float64.
    ``query_budget``: optional total number of points answered (deprecated alias
    ``max_queries``).
    """

    dtype = torch.float64

    @renamed_params(max_queries="query_budget")
    def __init__(
        self,
        estimator: Any,
        bounds: BoundsLike = (-np.inf, np.inf),
        *,
        device: str | torch.device = "auto",
        query_budget: int | None = None,
        batch_size: int = 4096,
        white_box: bool = True,
    ) -> None:
        if not hasattr(estimator, "classes_"):
            raise ConfigError("the estimator is not fitted (no classes_)")
        classes = np.asarray(estimator.classes_)
        if not np.array_equal(classes, np.arange(len(classes))):
            raise ConfigError(f"labels must be 0..K-1, the estimator has classes {classes[:10]}")
        dev = resolve_device(device)
        self.estimator = estimator
        self.module = sklearn_to_torch(estimator) if white_box else None
        if self.module is not None:
            self.module = self.module.to(dev)
            self.access = Access.GRADIENTS
            self.output = "logits"
        elif hasattr(estimator, "predict_proba"):
            self.access = Access.SCORES
            self.output = "probs"
        elif hasattr(estimator, "decision_function"):
            self.access = Access.SCORES
            self.output = "logits"
        else:
            self.access = Access.LABELS
            self.output = "probs"
        n_features = int(getattr(estimator, "n_features_in_", 0))
        if n_features == 0:
            raise ConfigError("cannot infer the number of features (n_features_in_)")
        super().__init__(
            bounds=bounds,
            input_shape=(n_features,),
            num_classes=len(classes),
            device=dev,
            query_budget=query_budget,
            batch_size=batch_size,
        )

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.module is not None:
            return self.module(x.to(self.dtype))
        xn = x.detach().cpu().numpy().astype(np.float64)
        if hasattr(self.estimator, "predict_proba"):
            out = self.estimator.predict_proba(xn)
        elif hasattr(self.estimator, "decision_function"):
            out = self.estimator.decision_function(xn)
            if out.ndim == 1:
                out = np.stack([np.zeros_like(out), out], axis=1)
        else:
            pred = self.estimator.predict(xn).astype(int)
            out = np.eye(self.num_classes)[pred]
        return torch.as_tensor(out, dtype=self.dtype, device=self.device)

    def _gradient(self, x: torch.Tensor, objective: Objective) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.module is not None
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            out = self.module(xg.to(self.dtype))
            (grad,) = torch.autograd.grad(objective(out).sum(), xg)
        return grad.detach(), out.detach()

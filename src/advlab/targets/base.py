"""The :class:`Target` contract: a model plus how an attacker can reach it.

A target declares its access level (labels, scores or gradients), its input bounds and
shape, and routes every call through a :class:`~advlab.meter.QueryMeter` that counts
queries and gradient calls and enforces an optional budget.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch

from advlab.access import Access
from advlab.errors import AccessError, InputError
from advlab.meter import QueryMeter
from advlab.utils import as_tensor
from advlab.vocab import renamed_params

log = logging.getLogger(__name__)

Objective = Callable[[torch.Tensor], torch.Tensor]
"""Maps a batch of logits to a per-sample objective the attacker *ascends*."""

OutputKind = Literal["logits", "probs"]
BoundsLike = tuple[Any, Any]


class Target(ABC):
    """Base class of every target adapter.

    Subclasses implement :meth:`_forward` (raw outputs, no accounting) and, for white-box
    targets, :meth:`_gradient`. The public methods do input checks, batching and counting.
    """

    access: Access = Access.SCORES
    output: OutputKind = "logits"
    dtype: torch.dtype = torch.float32
    """The floating precision of the model: inputs are converted to it and outputs keep it
    (a float64 model answers in float64, end to end)."""
    deterministic: bool = True
    """Equal inputs give equal outputs and gradients. Attacks may rely on it (PGD stops a
    point whose iterates cycle); randomized defenses set it to False. Set it to False on a
    target whose model is stochastic at inference (e.g. MC dropout)."""

    @renamed_params(max_queries="query_budget")
    def __init__(
        self,
        *,
        bounds: BoundsLike,
        input_shape: tuple[int, ...],
        num_classes: int,
        device: torch.device | str = "cpu",
        query_budget: int | None = None,
        batch_size: int = 512,
        meter: QueryMeter | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.num_classes = int(num_classes)
        self.batch_size = int(batch_size)
        if dtype is not None:
            self.dtype = dtype
        self.meter = meter if meter is not None else QueryMeter(query_budget=query_budget)
        self.set_bounds(bounds)

    # ------------------------------------------------------------------ bounds
    def set_bounds(self, bounds: BoundsLike) -> None:
        """Accepts scalars ``(lo, hi)`` or per-feature arrays of the input shape."""
        lo, hi = bounds
        self.lower = as_tensor(lo, device=self.device, dtype=self.dtype)
        self.upper = as_tensor(hi, device=self.device, dtype=self.dtype)
        if bool((self.lower > self.upper).any()):
            raise InputError(f"bounds must satisfy lower <= upper, got {bounds!r}")

    @property
    def bounds(self) -> tuple[float, float]:
        """Scalar summary of the bounds (the global min and max)."""
        return float(self.lower.min()), float(self.upper.max())

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        return torch.maximum(torch.minimum(x, self.upper), self.lower)

    def constrain(self, x: torch.Tensor, x_adv: torch.Tensor) -> torch.Tensor:
        """Apply the threat model's constraints beyond the bounds to candidates ``x_adv``
        for the clean points ``x`` (e.g. immutable features keep their clean values).

        Attacks call it in their projection (:meth:`EvasionAttack._enforce`), so a
        constraint shapes what the attack returns instead of editing its result afterwards.
        The default has no constraint; wrappers delegate to the target they wrap.
        """
        return x_adv

    def feasible(self, x: torch.Tensor, x_adv: torch.Tensor) -> torch.Tensor | None:
        """Per point: ``x_adv`` is a valid object of the threat model's domain for the clean
        points ``x`` (``None``: the target declares no domain constraints). Attacks count a
        point as broken only when it is feasible."""
        return None

    # ------------------------------------------------------------------ checks
    def check_inputs(self, x: Any, *, atol: float = 1e-6) -> torch.Tensor:
        """Validate and convert ``x`` (to :attr:`dtype`): shape, finiteness and bounds."""
        t = as_tensor(x, device=self.device, dtype=self.dtype)
        if t.dim() == len(self.input_shape):
            t = t.unsqueeze(0)
        if tuple(t.shape[1:]) != self.input_shape:
            raise InputError(
                f"input has shape {tuple(t.shape)}; expected (N, {', '.join(map(str, self.input_shape))})"
            )
        if not bool(torch.isfinite(t).all()):
            bad = (~torch.isfinite(t.reshape(len(t), -1))).any(1).nonzero().flatten().tolist()
            raise InputError(f"inputs contain NaN or inf values (rows {bad[:10]})")
        lo_v = float((self.lower - t).max())
        hi_v = float((t - self.upper).max())
        if lo_v > atol or hi_v > atol:
            raise InputError(
                f"inputs fall outside the target's bounds [{self.bounds[0]:g}, {self.bounds[1]:g}] "
                f"(by up to {max(lo_v, hi_v):.4g}); scale the data like the training data"
            )
        return t

    def require(self, level: Access, who: str) -> None:
        """Fail clearly when ``who`` needs more access than this target grants."""
        if self.access < level:
            raise AccessError(
                f"{who} needs {level.name.lower()} access but the target only gives "
                f"{self.access.name.lower()}"
            )

    # ------------------------------------------------------------------ raw model
    @abstractmethod
    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw model outputs (logits or probabilities, see :attr:`output`) for a batch."""

    def _gradient(self, x: torch.Tensor, objective: Objective) -> tuple[torch.Tensor, torch.Tensor]:
        raise AccessError(f"{type(self).__name__} does not provide gradients")

    # ------------------------------------------------------------------ public, counted
    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """Model outputs for ``x`` (counted); logits or probabilities per :attr:`output`."""
        self.require(Access.SCORES, "scores()")
        return self._counted_forward(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (log-probabilities when the model returns probabilities); counted."""
        s = self.scores(x)
        return to_logits(s, self.output)

    def labels(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted labels (always available); counted."""
        return self._counted_forward(x).argmax(dim=1)

    def predict(self, x: Any) -> np.ndarray:
        """Convenience: labels of numpy/tensor input as a numpy array."""
        t = self.check_inputs(x)
        return self.labels(t).cpu().numpy()

    def gradient(self, x: torch.Tensor, objective: Objective) -> tuple[torch.Tensor, torch.Tensor]:
        """Gradient of ``objective(logits).sum()`` w.r.t. ``x`` plus the logits (counted)."""
        self.require(Access.GRADIENTS, "gradient()")
        self.meter.charge(len(x), gradients=True)
        grad, logits = self._gradient(x, objective)
        return grad, to_logits(logits, self.output)

    def loss_gradient(
        self, x: torch.Tensor, y: torch.Tensor, loss: str = "ce"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gradient of the per-sample loss (to be ascended) w.r.t. ``x``; returns (grad, logits)."""
        from advlab.losses import get_loss

        fn = get_loss(loss)
        return self.gradient(x, lambda z: fn(z, y))

    def _counted_forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for start in range(0, len(x), self.batch_size):
            xb = x[start : start + self.batch_size]
            self.meter.charge(len(xb))
            with torch.no_grad():
                outs.append(self._forward(xb))
        if not outs:
            return torch.empty(0, self.num_classes, device=self.device, dtype=self.dtype)
        return torch.cat(outs)

    def describe(self) -> dict[str, Any]:
        """A JSON-able description for results and reports."""
        return {
            "type": type(self).__name__,
            "access": self.access.name.lower(),
            "output": self.output,
            "bounds": list(self.bounds),
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "device": str(self.device),
            "dtype": str(self.dtype).replace("torch.", ""),
        }


def to_logits(scores: torch.Tensor, output: OutputKind) -> torch.Tensor:
    """Logits from model outputs: identity for logits, a stable log for probabilities."""
    if output == "probs":
        return torch.log(scores.clamp_min(1e-12))
    return scores


class TargetWrapper(Target):
    """A target that delegates to another one; defenses and access reducers subclass this."""

    def __init__(self, inner: Target, *, access: Access | None = None) -> None:
        self.inner = inner
        self.device = inner.device
        self.input_shape = inner.input_shape
        self.num_classes = inner.num_classes
        self.batch_size = inner.batch_size
        self.meter = inner.meter
        self.lower, self.upper = inner.lower, inner.upper
        self.output = inner.output
        self.dtype = inner.dtype
        self.deterministic = inner.deterministic
        self.access = inner.access if access is None else min(access, inner.access)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner._forward(x)

    def _gradient(self, x: torch.Tensor, objective: Objective) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inner._gradient(x, objective)

    def constrain(self, x: torch.Tensor, x_adv: torch.Tensor) -> torch.Tensor:
        return self.inner.constrain(x, x_adv)

    def feasible(self, x: torch.Tensor, x_adv: torch.Tensor) -> torch.Tensor | None:
        return self.inner.feasible(x, x_adv)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["wraps"] = self.inner.describe()
        return d


class LabelsOnly(TargetWrapper):
    """Lower any target to label-only access (decision-based attacks still work)."""

    def __init__(self, inner: Target) -> None:
        super().__init__(inner, access=Access.LABELS)


class ScoresOnly(TargetWrapper):
    """Hide gradients: the target answers scores and labels only."""

    def __init__(self, inner: Target) -> None:
        super().__init__(inner, access=Access.SCORES)

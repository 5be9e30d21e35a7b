"""Results: what an attack produced and what it cost, serialisable to JSON."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

SCHEMA_VERSION = 1

RESULT_TYPES: dict[str, type[Result]] = {}


def _encode(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu().numpy()
    if isinstance(v, np.ndarray):
        return {"__array__": v.tolist(), "dtype": str(v.dtype), "shape": list(v.shape)}
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    if isinstance(v, dict):
        return {str(k): _encode(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_encode(x) for x in v]
    if isinstance(v, float) and not np.isfinite(v):
        return str(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)  # objects in parameters (e.g. a surrogate target) are named, not stored


def _array_size(v: Any) -> int:
    """Number of elements of a tensor or array (0 for anything else)."""
    if isinstance(v, torch.Tensor):
        return int(v.numel())
    if isinstance(v, np.ndarray):
        return int(v.size)
    return 0


def _to_numpy(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return v.detach().cpu().numpy()
    if isinstance(v, Result):
        return v.numpy()
    if isinstance(v, list):
        return [_to_numpy(x) for x in v]
    return v


def _mean(v: Any) -> float:
    """Mean of a boolean tensor or array, as a float."""
    return float(np.asarray(v, dtype=np.float64).mean())


def _decode(v: Any) -> Any:
    if isinstance(v, dict) and "__array__" in v:
        return np.asarray(v["__array__"], dtype=v["dtype"]).reshape(v["shape"])
    if isinstance(v, dict):
        return {k: _decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v


@dataclass
class Result:
    """Common fields of every result (attack name, parameters, costs, seed)."""

    type_name: ClassVar[str] = "result"
    renamed_fields: ClassVar[dict[str, str]] = {}
    """Old field names of this result, read from files written before a rename."""

    attack: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    queries: int = 0
    gradient_calls: int = 0
    seconds: float = 0.0
    target: dict[str, Any] = field(default_factory=dict)
    stopped_early: bool = False
    message: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        RESULT_TYPES[cls.type_name] = cls
        if "__repr__" not in cls.__dict__:  # @dataclass keeps it: a summary, not the arrays
            cls.__repr__ = Result.__repr__  # type: ignore[method-assign]

    def __repr__(self) -> str:
        """One line: the type and :meth:`summary` (arrays are never printed)."""
        items = []
        for k, v in self.summary().items():
            text = f"{v:.4g}" if isinstance(v, float) else repr(v)
            items.append(f"{k}={text if len(text) <= 80 else text[:77] + '...'}")
        return f"{type(self).__name__}({', '.join(items)})"

    def numpy(self) -> Result:
        """A copy whose tensors are NumPy arrays (nested results too), for NumPy callers;
        every property and :meth:`summary` work on it as on the original."""
        out = copy.copy(self)
        for f in fields(self):
            setattr(out, f.name, _to_numpy(getattr(self, f.name)))
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "attack": self.attack,
            "queries": self.queries,
            "gradient_calls": self.gradient_calls,
            "seconds": round(self.seconds, 4),
            "stopped_early": self.stopped_early,
        }

    def to_dict(self, *, arrays: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type_name, "schema_version": SCHEMA_VERSION}
        for f in fields(self):
            v = getattr(self, f.name)
            if not arrays and _array_size(v) > 64:
                continue
            out[f.name] = _encode(v)
        out["summary"] = _encode(self.summary())
        return out

    def to_json(self, path: str | Path | None = None, *, arrays: bool = True) -> str:
        text = json.dumps(self.to_dict(arrays=arrays))
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        kind = RESULT_TYPES.get(d.get("type", cls.type_name), cls)
        names = {f.name for f in fields(kind)}
        d = {kind.renamed_fields.get(k, k): v for k, v in d.items()}
        kwargs = {k: _decode(v) for k, v in d.items() if k in names}
        obj = kind(**kwargs)
        obj._after_load()
        return obj

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Result:
        p = Path(text_or_path) if not str(text_or_path).lstrip().startswith("{") else None
        text = p.read_text() if p is not None else str(text_or_path)
        return cls.from_dict(json.loads(text))

    def _after_load(self) -> None:
        """Hook to turn decoded numpy arrays back into tensors."""


@dataclass
class EvasionResult(Result):
    """Outcome of an evasion attack on a batch.

    ``success[i]``: point ``i`` was attacked and the returned ``x_adv[i]`` (within ``eps``
    and the bounds, re-checked by the base class) is misclassified (untargeted) or classified
    as ``y[i]`` (targeted). ``robust[i]``: correctly classified and not broken.
    """

    type_name: ClassVar[str] = "evasion"

    x_adv: Any = None
    y: Any = None
    eps: float | None = None
    norm: str = "linf"
    targeted: bool = False
    clean_correct: Any = None
    success: Any = None
    norms: Any = None
    attacked: int = 0
    feasible: Any = None
    """Per returned point: it satisfies the domain constraints (``None``: none declared)."""
    rejected: int = 0
    """Candidates that fooled the model but were infeasible (not counted as successes)."""

    def _after_load(self) -> None:
        for name in ("x_adv", "y", "clean_correct", "success", "norms", "feasible"):
            v = getattr(self, name)
            if isinstance(v, np.ndarray):
                setattr(self, name, torch.from_numpy(v))

    @property
    def n(self) -> int:
        return 0 if self.success is None else len(self.success)

    @property
    def robust(self) -> Any:
        """Correctly classified and not broken, per point (a tensor, or an array after
        :meth:`numpy`)."""
        return self.clean_correct & ~self.success

    @property
    def clean_accuracy(self) -> float:
        return _mean(self.clean_correct) if self.n else float("nan")

    @property
    def robust_accuracy(self) -> float:
        """Fraction of points still classified correctly (untargeted) / not forced (targeted)."""
        return _mean(self.robust) if self.n else float("nan")

    @property
    def success_rate(self) -> float:
        """Fraction of attackable (clean-correct) points that the attack broke."""
        k = int(self.clean_correct.sum())
        return float(self.success.sum()) / k if k else 0.0

    @property
    def median_norm(self) -> float:
        if self.success is None or not bool(self.success.any()):
            return float("nan")
        # the lower median, as torch.median gives it
        return float(
            np.sort(np.asarray(self.norms)[np.asarray(self.success)])[
                (int(self.success.sum()) - 1) // 2
            ]
        )

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(
            eps=self.eps,
            norm=self.norm,
            targeted=self.targeted,
            n=self.n,
            attacked=self.attacked,
            clean_accuracy=round(self.clean_accuracy, 6),
            robust_accuracy=round(self.robust_accuracy, 6),
            success_rate=round(self.success_rate, 6),
            median_norm=self.median_norm,
            queries_per_point=round(self.queries / max(self.n, 1), 3),
            gradient_calls_per_point=round(self.gradient_calls / max(self.n, 1), 3),
        )
        if self.feasible is not None:
            s.update(
                feasible_rate=round(float(self.feasible.double().mean()), 6), rejected=self.rejected
            )
        return s


@dataclass
class QueryCountedResult(EvasionResult):
    """An :class:`EvasionResult` of a black-box attack plus, for every point it attacked (in
    the order attacked), the queries the attack spent on that point until its first success
    (``None``: not broken within its budget), restarts included. The data of a
    success-vs-queries curve: the fraction of attacked points broken within ``N`` queries,
    :meth:`broken_within`."""

    type_name: ClassVar[str] = "evasion_queries"

    queries_to_success: list[int | None] = field(default_factory=list)

    def broken_within(self, budgets: Any) -> np.ndarray:
        """Fraction of attacked points broken within each per-point budget of ``budgets``
        (non-decreasing in the budget by construction)."""
        b = np.asarray(budgets, dtype=float).reshape(-1)
        if not self.queries_to_success:
            return np.zeros_like(b)
        done = np.asarray([q for q in self.queries_to_success if q is not None], dtype=float)
        return (done[None, :] <= b[:, None]).sum(1) / len(self.queries_to_success)


@dataclass
class SweepResult(Result):
    """Robust accuracy per epsilon (one :class:`EvasionResult` per eps)."""

    type_name: ClassVar[str] = "sweep"

    eps: list[float] = field(default_factory=list)
    norm: str = "linf"
    results: list[Any] = field(default_factory=list)

    def _after_load(self) -> None:
        self.results = [r if isinstance(r, Result) else Result.from_dict(r) for r in self.results]

    def to_dict(self, *, arrays: bool = True) -> dict[str, Any]:
        d = super().to_dict(arrays=arrays)
        d["results"] = [r.to_dict(arrays=arrays) for r in self.results]
        return d

    @property
    def robust_accuracy(self) -> list[float]:
        return [r.robust_accuracy for r in self.results]

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(eps=self.eps, norm=self.norm, robust_accuracy=self.robust_accuracy)
        return s

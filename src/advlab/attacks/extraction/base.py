"""Template for model-extraction attacks and their result.

:meth:`ExtractionAttack.extract` is final. It validates the constructor arguments, checks
the access level and that the target's remaining query budget covers the attack's minimum,
seeds, times the attack, counts the queries it spent, and then -- *outside* the attacker's
budget, as the experimenter -- measures the stolen model's fidelity (agreement with the
target's labels) and accuracy (agreement with true labels) on named input distributions:
``"test"`` (in-distribution held-out data, when given) and ``"uniform"`` (uniform random
inputs inside the target's bounds). Jagielski et al. 2020 ("High Accuracy and High Fidelity
Extraction of Neural Networks", USENIX Security, arXiv:1909.01838) show the two differ.

Subclasses implement :meth:`ExtractionAttack._extract`, which returns a :class:`Stolen`.
Every target query goes through :meth:`ExtractionAttack._query_scores` /
:meth:`ExtractionAttack._query_labels`, which meter and check the outputs (NaN, inf, shape).
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, final

import numpy as np
import torch

from advlab.access import Access
from advlab.attacks.base import Attack
from advlab.errors import BudgetExhausted, InputError
from advlab.results import Result
from advlab.targets.base import Target
from advlab.utils import as_labels, make_generator

log = logging.getLogger(__name__)

StolenModel = Callable[[torch.Tensor], torch.Tensor]
"""A stolen classifier: maps a batch of inputs to per-class scores (arg-max = label)."""

Evaluator = Callable[[StolenModel], dict[str, float]]
"""Unmetered fidelity of a candidate stolen model on each named distribution (for curves)."""


@dataclass
class Stolen:
    """What :meth:`ExtractionAttack._extract` returns.

    ``model`` maps inputs to scores (``None`` when no classifier is recovered, e.g. logit
    SVD); ``parameters`` is a JSON-able summary of what was recovered; ``param_error`` the
    maximum parameter error where the true parameters are known; ``curve`` optional
    fidelity-vs-queries points; ``extra`` anything else worth reporting.
    """

    model: StolenModel | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    param_error: float | None = None
    curve: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    stopped_early: bool = False
    message: str = ""


@dataclass
class ExtractionResult(Result):
    """Outcome of an extraction attack.

    ``fidelity[dist]`` / ``accuracy[dist]``: agreement of the stolen model with the target's
    labels / the true labels on distribution ``dist`` (``"test"``, ``"uniform"``);
    ``param_error``: maximum parameter error (``None`` when no parameters are compared);
    ``parameters``: summary of the recovered parameters; ``curve``: fidelity-vs-queries.
    The stolen model itself is kept in :attr:`model` but is not serialised.
    """

    type_name: ClassVar[str] = "extraction"

    fidelity: dict[str, float] = field(default_factory=dict)
    accuracy: dict[str, float] = field(default_factory=dict)
    param_error: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    curve: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    model: Any = field(default=None, repr=False, compare=False)

    def to_dict(self, *, arrays: bool = True) -> dict[str, Any]:
        saved = self.model
        self.model = None
        try:
            d = super().to_dict(arrays=arrays)
        finally:
            self.model = saved
        d.pop("model", None)
        return d

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(
            fidelity={k: round(v, 6) for k, v in self.fidelity.items()},
            accuracy={k: round(v, 6) for k, v in self.accuracy.items()},
            param_error=self.param_error,
        )
        return s

    def predict(self, x: Any) -> np.ndarray:
        """Labels of the stolen model for ``x`` (numpy or tensor)."""
        if self.model is None:
            raise InputError(f"{self.attack} recovered no classifier (see .parameters)")
        t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
        with torch.no_grad():
            return self.model(t).argmax(1).cpu().numpy()  # type: ignore[no-any-return]


class ExtractionAttack(Attack):
    """Base of every extraction attack.

    Subclass contract: set ``name``, ``requires``, ``paper``, ``summary``; store keyword-only
    constructor arguments (including ``seed``); implement :meth:`_extract` and, when the
    attack has a minimum query cost, :meth:`min_queries`.
    """

    family: ClassVar[str] = "extraction"
    requires: ClassVar[Access] = Access.LABELS

    seed: int | None

    # ------------------------------------------------------------------ subclass API
    @abstractmethod
    def _extract(
        self,
        target: Target,
        x: torch.Tensor | None,
        *,
        generator: torch.Generator,
        evaluate: Evaluator,
    ) -> Stolen:
        """Steal ``target`` (``x``: the attacker's own data, when the attack uses any).

        ``evaluate(model)`` gives the experimenter's (unmetered) fidelity per distribution,
        for fidelity-vs-queries curves; it must not influence the attack.
        """

    def _validate(self) -> None:
        """Check constructor arguments; subclasses extend."""

    def min_queries(self, target: Target) -> int:
        """The fewest queries the attack can succeed with on ``target``."""
        return 1

    # ------------------------------------------------------------------ public API
    @final
    def extract(
        self,
        target: Target,
        x: Any = None,
        *,
        x_eval: Any = None,
        y_eval: Any = None,
        n_uniform: int = 1000,
    ) -> ExtractionResult:
        """Steal ``target`` and measure the copy.

        Args:
            target: the victim (its meter counts the attack's queries; its budget binds).
            x: the attacker's own query data (a pool for Knockoff / active learning, seeds
                for Jacobian augmentation); ignored by attacks that synthesise queries.
            x_eval / y_eval: held-out in-distribution inputs (and true labels) for the
                ``"test"`` fidelity / accuracy; not charged to the attacker.
            n_uniform: number of uniform random inputs for the ``"uniform"`` fidelity.
        """
        self._validate()
        target.require(self.requires, self.name)
        xt = None
        if x is not None:
            xt = target.check_inputs(x)
        elif self.has("needs_data"):
            raise InputError(f"{self.name} needs attacker data x (a pool or seed set)")
        need = self.min_queries(target)
        remaining = target.meter.remaining
        if remaining is not None and remaining < need:
            raise BudgetExhausted(
                f"{self.name} needs at least {need} queries on this target "
                f"(input dimension {int(np.prod(target.input_shape))}, "
                f"{target.num_classes} classes) but the budget leaves {remaining}"
            )
        gen = make_generator(self.seed, target.device)
        dists = self._eval_sets(target, x_eval, y_eval, n_uniform)
        refs = {k: oracle_labels(target, xe) for k, (xe, _) in dists.items()}

        def evaluate(model: StolenModel) -> dict[str, float]:
            return {
                k: float((predict_labels(model, xe).to(refs[k].device) == refs[k]).float().mean())
                for k, (xe, _) in dists.items()
            }

        t0 = time.perf_counter()
        q0, g0 = target.meter.snapshot()
        stolen = self._extract(target, xt, generator=gen, evaluate=evaluate)
        seconds = time.perf_counter() - t0
        q1, g1 = target.meter.snapshot()
        fidelity: dict[str, float] = {}
        accuracy: dict[str, float] = {}
        if stolen.model is not None:
            for dname, (xe, ye) in dists.items():
                pred = predict_labels(stolen.model, xe).to(refs[dname].device)
                fidelity[dname] = float((pred == refs[dname]).float().mean())
                if ye is not None:
                    accuracy[dname] = float((pred == ye).float().mean())
        return ExtractionResult(
            attack=self.name,
            params=self.get_params(),
            seed=self.seed,
            queries=q1 - q0,
            gradient_calls=g1 - g0,
            seconds=seconds,
            target=target.describe(),
            stopped_early=stolen.stopped_early,
            message=stolen.message,
            fidelity=fidelity,
            accuracy=accuracy,
            param_error=stolen.param_error,
            parameters=stolen.parameters,
            curve=stolen.curve,
            extra=stolen.extra,
            model=stolen.model,
        )

    # ------------------------------------------------------------------ helpers
    def _eval_sets(
        self, target: Target, x_eval: Any, y_eval: Any, n_uniform: int
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor | None]]:
        out: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        if x_eval is not None:
            xe = target.check_inputs(x_eval).to(input_dtype(target))
            ye = None
            if y_eval is not None:
                ye = as_labels(y_eval, device=target.device).reshape(-1)
                if len(ye) != len(xe):
                    raise InputError(f"x_eval has {len(xe)} rows but y_eval {len(ye)}")
            out["test"] = (xe, ye)
        if n_uniform > 0:
            g = torch.Generator().manual_seed(10_000 + (self.seed or 0))
            out["uniform"] = (uniform_inputs(target, n_uniform, g, dtype=input_dtype(target)), None)
        return out

    def _query_scores(self, target: Target, x: torch.Tensor) -> torch.Tensor:
        """Metered scores (as returned: logits or probabilities), checked for NaN/inf."""
        out = target.scores(x)
        return _check_outputs(self.name, target, out, len(x))

    def _query_labels(self, target: Target, x: torch.Tensor) -> torch.Tensor:
        """Metered labels (works at any access level)."""
        out = target._counted_forward(x)
        out = _check_outputs(self.name, target, out, len(x))
        return out.argmax(1)

    def _budget(self, target: Target, wanted: int) -> int:
        """``wanted`` capped by the target's remaining budget."""
        rem = target.meter.remaining
        return wanted if rem is None else min(wanted, rem)


def _check_outputs(name: str, target: Target, out: torch.Tensor, n: int) -> torch.Tensor:
    if out.shape != (n, target.num_classes):
        raise InputError(
            f"{name}: target returned shape {tuple(out.shape)}; "
            f"expected ({n}, {target.num_classes})"
        )
    if not bool(torch.isfinite(out).all()):
        rows = (~torch.isfinite(out)).any(1).nonzero().flatten().tolist()
        raise InputError(
            f"{name}: target returned NaN or inf outputs (rows {rows[:10]}); "
            "extraction needs finite scores"
        )
    return out


def uniform_inputs(
    target: Target, n: int, generator: torch.Generator, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``n`` uniform random inputs inside the target's bounds (infinite bounds -> [0, 1])."""
    shape = (n, *target.input_shape)
    lo = torch.broadcast_to(target.lower.cpu(), target.input_shape).to(torch.float64)
    hi = torch.broadcast_to(target.upper.cpu(), target.input_shape).to(torch.float64)
    lo = torch.where(torch.isfinite(lo), lo, torch.zeros_like(lo))
    hi = torch.where(torch.isfinite(hi), hi, lo + 1.0)
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    return (lo + u * (hi - lo)).to(dtype=dtype, device=target.device)


@torch.no_grad()
def oracle_labels(target: Target, x: torch.Tensor) -> torch.Tensor:
    """The target's labels for ``x`` *without* charging the meter (experimenter's view)."""
    outs = [
        target._forward(x[s : s + target.batch_size]).argmax(1)
        for s in range(0, len(x), target.batch_size)
    ]
    return torch.cat(outs) if outs else torch.empty(0, dtype=torch.long, device=x.device)


@torch.no_grad()
def predict_labels(model: StolenModel, x: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """Arg-max labels of a stolen model, in batches (inputs cast to a module's dtype)."""
    if isinstance(model, torch.nn.Module):
        p = next(iter(model.parameters()), None)
        if p is not None and p.is_floating_point():
            x = x.to(p.dtype)
    outs = [model(x[s : s + batch_size]).argmax(1) for s in range(0, len(x), batch_size)]
    return torch.cat(outs) if outs else torch.empty(0, dtype=torch.long)


def input_dtype(target: Target) -> torch.dtype:
    """The floating dtype the target's model takes (float64 for a double model, else float32).

    Part of an API's interface, like its input shape; no query is spent.
    """
    t: Any = target
    while t is not None:
        for attr in ("model", "module"):
            m = getattr(t, attr, None)
            if isinstance(m, torch.nn.Module):
                for p in m.parameters():
                    if p.is_floating_point():
                        return p.dtype
                return torch.float32
        t = getattr(t, "inner", None)
    return torch.float32


def reference_forward(target: Target) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """A float64 copy of the white-box model behind a (possibly wrapped) target, else ``None``.

    It maps float64 inputs to the model's logits (log-probabilities for a model that ends
    in a softmax; input preprocessing included). Used
    only by the experimenter to score recovered parameters against the truth, never by an
    attack to steal.
    """
    import copy

    t: Any = target
    while t is not None:
        model = getattr(t, "model", None)
        if isinstance(model, torch.nn.Module) and hasattr(t, "_call"):
            m = copy.deepcopy(model).double().cpu().eval()
            mean = getattr(t, "_mean", None)
            std = getattr(t, "_std", None)
            extract = getattr(t, "extract", None)
            probs = getattr(t, "output", "logits") == "probs"

            def fwd(
                x: torch.Tensor,
                m: Any = m,
                mean: Any = mean,
                std: Any = std,
                extract: Any = extract,
                probs: bool = probs,
            ) -> torch.Tensor:
                x = x.double().cpu()
                if mean is not None and std is not None:
                    x = (x - mean.double().cpu()) / std.double().cpu()
                with torch.no_grad():
                    out = m(x)
                if extract is not None:
                    out = extract(out)
                elif isinstance(out, (tuple, list)):
                    out = out[0]
                elif isinstance(out, dict):
                    out = out["logits"]
                return torch.log(out) if probs else out  # type: ignore[no-any-return]

            return fwd
        module = getattr(t, "module", None)
        if isinstance(module, torch.nn.Module):
            mod = copy.deepcopy(module).double().cpu().eval()

            def fwd2(x: torch.Tensor, mod: Any = mod) -> torch.Tensor:
                with torch.no_grad():
                    return mod(x.double().cpu())  # type: ignore[no-any-return]

            return fwd2
        t = getattr(t, "inner", None)
    return None


def fidelity_of(model: StolenModel, target: Target, x: torch.Tensor) -> float:
    """Label agreement of ``model`` with ``target`` on ``x`` (unmetered)."""
    ref = oracle_labels(target, x)
    pred = predict_labels(model, x).to(ref.device)
    return float((pred == ref).float().mean())

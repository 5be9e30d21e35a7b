"""``ObjectiveAttack``: optimise any objective over a constrained input with gradient-free
optimisers under one query budget.

The feasible set is a box (the bounds) intersected with an Lp ball around the start point,
with integer features rounded and immutable features fixed. The optimisers are
interchangeable and all spend the same budget of objective evaluations ("queries"):

- ``random``: random search on the boundary of the ball (vertices for L-inf), keeping the
  best point (Rastrigin 1963; the baseline of Andriushchenko et al. 2020);
- ``nes``: natural evolution strategies gradient estimation with antithetic Gaussian samples
  and projected signed steps (Wierstra et al. 2014; Ilyas, Engstrom, Athalye & Lin,
  "Black-box Adversarial Attacks with Limited Queries and Information", ICML 2018,
  arXiv:1804.08598);
- ``cmaes``: CMA-ES (Hansen & Ostermeier 2001) through the ``cma`` package;
- ``de``: differential evolution (Storn & Price 1997) through ``scipy.optimize``;
- ``bayes``: Bayesian optimisation with a Gaussian process (scikit-optimize, optional:
  ``pip install scikit-optimize``).

As an evasion attack it ascends the margin ``max_{j != y} z_j - z_y`` of the target's logits
(success when positive), one point at a time. :meth:`ObjectiveAttack.optimise` takes any
objective ``f(Z: (B, d) array) -> (B,) array`` to be maximised.

Example:
    >>> atk = ObjectiveAttack(optimiser="cmaes", eps=0.2, max_queries=500)
    >>> atk.run(ScoresOnly(target), x, y).robust_accuracy
    >>> atk.optimise(lambda z: -((z - 0.7) ** 2).sum(1), np.zeros(5), success=0.0 - 1e-3)
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, cast

import numpy as np
import torch

from advlab.access import Access
from advlab.attacks.evasion.base import EvasionAttack
from advlab.errors import ConfigError
from advlab.registry import register_attack
from advlab.results import EvasionResult
from advlab.targets.base import Target

log = logging.getLogger(__name__)

OPTIMISERS = ("random", "nes", "cmaes", "de", "bayes")
Objective = Callable[[np.ndarray], np.ndarray]


class _Stop(Exception):
    """Raised inside third-party optimisers when the budget is spent or the goal is met."""


@dataclass
class OptimResult:
    """Best point found, its value, queries spent, success and the best-so-far history."""

    x: np.ndarray
    value: float
    queries: int
    success: bool
    queries_to_success: int | None
    history: list[tuple[int, float]] = field(default_factory=list)


class _Problem:
    """Feasible set + metered objective shared by every optimiser."""

    def __init__(
        self,
        f: Objective,
        x0: np.ndarray,
        *,
        lower: np.ndarray,
        upper: np.ndarray,
        eps: float | None,
        norm: str,
        integer: Sequence[int],
        immutable: Sequence[int],
        budget: int,
        goal: float | None,
    ) -> None:
        self.f, self.x0, self.eps, self.norm = f, x0.astype(np.float64), eps, norm
        self.lower, self.upper = lower.astype(np.float64), upper.astype(np.float64)
        d = len(x0)
        fixed = np.zeros(d, dtype=bool)
        fixed[list(immutable)] = True
        self.free = np.flatnonzero(~fixed)
        self.integer = np.zeros(d, dtype=bool)
        self.integer[list(integer)] = True
        r = np.inf if eps is None else eps
        self.lb = np.maximum(self.lower, self.x0 - r)[self.free]
        self.ub = np.minimum(self.upper, self.x0 + r)[self.free]
        self.budget, self.goal = int(budget), goal
        self.queries = 0
        self.best_x, self.best_v = self.x0.copy(), -np.inf
        self.first_success: int | None = None
        self.history: list[tuple[int, float]] = []

    @property
    def dim(self) -> int:
        return len(self.free)

    @property
    def remaining(self) -> int:
        return self.budget - self.queries

    def full(self, z: np.ndarray) -> np.ndarray:
        """Free coordinates (B, k) -> feasible full points (B, d)."""
        z = np.atleast_2d(z)
        x = np.repeat(self.x0[None], len(z), 0)
        x[:, self.free] = z
        delta = x - self.x0
        if self.eps is not None:
            delta = _project(delta, self.eps, self.norm)
        x = np.clip(self.x0 + delta, self.lower, self.upper)
        if self.integer.any():
            xi = np.round(x[:, self.integer])
            if self.eps is not None and self.norm == "linf":
                lo = np.ceil(self.x0[self.integer] - self.eps - 1e-9)
                hi = np.floor(self.x0[self.integer] + self.eps + 1e-9)
                keep = lo > hi  # no integer inside the ball: the start value stays
                xi = np.where(keep, self.x0[self.integer], np.clip(xi, lo, np.maximum(lo, hi)))
            x[:, self.integer] = np.clip(xi, self.lower[self.integer], self.upper[self.integer])
            if self.eps is not None and self.norm != "linf":
                over = _norm(x - self.x0, self.norm) > self.eps * (1 + 1e-9)
                x[np.ix_(over, self.integer)] = self.x0[self.integer]
        return x

    def evaluate(self, z: np.ndarray) -> np.ndarray:
        """Objective of free-coordinate candidates; raises :class:`_Stop` when done."""
        if self.remaining <= 0 or self.done:
            raise _Stop
        z = np.atleast_2d(z)[: self.remaining]
        x = self.full(z)
        v = np.asarray(self.f(x), dtype=np.float64).reshape(-1)
        if len(v) != len(x):
            raise ConfigError(f"the objective returned {len(v)} values for {len(x)} points")
        v = np.where(np.isfinite(v), v, -np.inf)
        for i, val in enumerate(v):
            self.queries += 1
            if val > self.best_v:
                self.best_v, self.best_x = float(val), x[i].copy()
                self.history.append((self.queries, self.best_v))
            if self.first_success is None and self.goal is not None and val > self.goal:
                self.first_success = self.queries
        return v

    @property
    def done(self) -> bool:
        return self.first_success is not None


def _norm(d: np.ndarray, norm: str) -> np.ndarray:
    if norm == "linf":
        return np.abs(d).max(1)
    if norm == "l2":
        return np.sqrt((d**2).sum(1))
    return np.abs(d).sum(1)


def _project(d: np.ndarray, eps: float, norm: str) -> np.ndarray:
    if norm == "linf":
        return np.clip(d, -eps, eps)
    if norm == "l2":
        n = np.maximum(_norm(d, "l2"), 1e-12)
        return d * np.minimum(1.0, eps / n)[:, None]
    # L1: Duchi et al. 2008, per row
    out = d.copy()
    for i, row in enumerate(d):
        a = np.abs(row)
        if a.sum() <= eps:
            continue
        mu = np.sort(a)[::-1]
        cs = np.cumsum(mu)
        rho = np.nonzero(mu * np.arange(1, len(mu) + 1) > cs - eps)[0][-1]
        theta = (cs[rho] - eps) / (rho + 1)
        out[i] = np.sign(row) * np.maximum(a - theta, 0)
    return out


# ---------------------------------------------------------------------------- optimisers
def _random(p: _Problem, rng: np.random.Generator, pop: int, opts: dict[str, Any]) -> None:
    x0 = p.x0[p.free]
    while True:
        if p.eps is None or p.norm != "linf":
            if p.eps is None:
                z = rng.uniform(p.lb, p.ub, size=(pop, p.dim))
            else:
                g = rng.standard_normal((pop, p.dim))
                g /= np.maximum(_norm(g, p.norm), 1e-12)[:, None]
                z = x0 + g * p.eps
        else:
            z = x0 + p.eps * rng.choice([-1.0, 1.0], size=(pop, p.dim))
        p.evaluate(z)


def _nes(p: _Problem, rng: np.random.Generator, pop: int, opts: dict[str, Any]) -> None:
    span = float(np.mean(p.ub - p.lb)) if np.all(np.isfinite(p.ub - p.lb)) else 1.0
    radius = p.eps if p.eps is not None else span
    sigma = float(opts.get("sigma") or 0.25 * radius)
    lr = float(opts.get("lr") or 0.2 * radius)
    half = max(pop // 2, 1)
    z = p.x0[p.free].copy()
    while True:
        u = rng.standard_normal((half, p.dim))
        vals = p.evaluate(np.concatenate([z + sigma * u, z - sigma * u]))
        if len(vals) < 2 * half:
            raise _Stop
        g = ((vals[:half] - vals[half:])[:, None] * u).sum(0) / (2 * half * sigma)
        step = np.sign(g) if p.norm == "linf" else g / max(np.linalg.norm(g), 1e-12)
        z = p.full(z + lr * step)[0][p.free]
        p.evaluate(z)


def _cmaes(p: _Problem, rng: np.random.Generator, pop: int, opts: dict[str, Any]) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import cma
    except ImportError as exc:  # pragma: no cover - optional dependency
        raise ConfigError("the cmaes optimiser needs cma: pip install 'advlab[optim]'") from exc
    span = p.ub - p.lb
    sigma0 = float(opts.get("sigma") or 0.3 * float(np.mean(span[np.isfinite(span)]) or 1.0))
    es = cma.CMAEvolutionStrategy(
        p.x0[p.free].tolist(),
        sigma0,
        {
            "bounds": [p.lb.tolist(), p.ub.tolist()],
            "popsize": pop,
            "verbose": -9,
            "seed": int(rng.integers(1, 2**31 - 1)),
            "maxfevals": p.budget,
            "tolfun": 0,
            "tolx": 0,
            "tolflatfitness": 10**9,
        },
    )
    while True:
        sols = es.ask()
        vals = p.evaluate(np.asarray(sols))
        if len(vals) < len(sols):
            raise _Stop
        es.tell(sols, (-vals).tolist())


def _de(p: _Problem, rng: np.random.Generator, pop: int, opts: dict[str, Any]) -> None:
    from scipy.optimize import differential_evolution

    bounds = list(zip(p.lb.tolist(), p.ub.tolist(), strict=True))
    mult = max(1, math.ceil(pop / max(p.dim, 1)))

    def f(zt: np.ndarray) -> np.ndarray:
        z = zt.T if zt.ndim == 2 else zt[None]
        vals = p.evaluate(z)
        if len(vals) < len(z):
            raise _Stop
        return -vals

    differential_evolution(
        f,
        bounds,
        popsize=mult,
        maxiter=10**6,
        tol=0,
        atol=0,
        polish=False,
        vectorized=True,
        updating="deferred",
        rng=rng,
        init="latinhypercube",
        mutation=opts.get("mutation", (0.5, 1.0)),
        recombination=opts.get("recombination", 0.7),
    )
    raise _Stop


def _bayes(p: _Problem, rng: np.random.Generator, pop: int, opts: dict[str, Any]) -> None:
    try:
        from skopt import Optimizer
    except ImportError as exc:
        raise ConfigError(
            "the bayes optimiser needs scikit-optimize: pip install scikit-optimize"
        ) from exc
    opt = Optimizer(
        list(zip(p.lb.tolist(), p.ub.tolist(), strict=True)),
        base_estimator="GP",
        random_state=int(rng.integers(0, 2**31 - 1)),
        n_initial_points=int(opts.get("initial_points", 10)),
    )
    batch = int(opts.get("batch", 4))
    while True:
        zs = opt.ask(n_points=batch)
        vals = p.evaluate(np.asarray(zs))
        opt.tell([list(z) for z in zs[: len(vals)]], (-vals).tolist())


def feasible_view(target: Target, x0: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Candidates ``z`` for the clean point ``x0`` as the model will see them: under the
    target's constraints (e.g. repaired domain constraints) and clipped to its bounds."""
    return target.clip(target.constrain(x0.expand_as(z), z))


_RUNNERS = {"random": _random, "nes": _nes, "cmaes": _cmaes, "de": _de, "bayes": _bayes}


@dataclass
class ObjectiveResult(EvasionResult):
    """An :class:`EvasionResult` plus, for every point the optimiser attacked (in the order
    attacked, once per restart), the queries it spent until the first success (``None``:
    no success within the budget) -- the data of a query-efficiency curve."""

    type_name: ClassVar[str] = "objective"

    queries_to_success: list[int | None] = field(default_factory=list)


@register_attack
class ObjectiveAttack(EvasionAttack):
    """Gradient-free optimisation of the margin (or any objective) under a query budget.

    Args:
        optimiser: ``random`` | ``nes`` | ``cmaes`` | ``de`` | ``bayes``.
        norm / eps: the perturbation ball (``eps=None`` optimises over the whole box).
        max_queries: objective evaluations per point.
        population: candidates per iteration (default ``min(4 + 3 ln d, ...)``-style 16).
        integer: flat indices of integer-valued features (rounded).
        immutable: flat indices of features the attacker cannot change.
        options: optimiser options (``sigma``, ``lr`` for nes; ``sigma`` for cmaes; ...).
        seed: seed of every random choice.
    """

    name: ClassVar[str] = "objective"
    requires: ClassVar[Access] = Access.SCORES
    norms: ClassVar[tuple[str, ...]] = ("linf", "l2", "l1")
    paper: ClassVar[str] = (
        "Ilyas et al. 2018, arXiv:1804.08598 (NES); Hansen 2001 (CMA-ES); Storn & Price 1997 (DE)"
    )
    summary: ClassVar[str] = (
        "Black-box optimisation of any objective (random search, NES, "
        "CMA-ES, differential evolution, Bayesian) under a query budget."
    )
    link = "arXiv:1804.08598"
    flags = frozenset({"iterative", "query_based", "randomized", "targeted"})
    suite_params = {"scores": {"optimiser": "random"}}

    _queries_to_success: list[int | None]  # set on the private copy a run works on

    fast_params = {"max_queries": 150}

    def __init__(
        self,
        *,
        optimiser: str = "random",
        norm: str = "linf",
        eps: float | None = 8 / 255,
        max_queries: int = 1000,
        population: int | None = None,
        integer: Sequence[int] = (),
        immutable: Sequence[int] = (),
        options: dict[str, Any] | None = None,
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.optimiser = optimiser
        self.norm = norm
        self.eps = eps
        self.max_queries = max_queries
        self.population = population
        self.integer = integer
        self.immutable = immutable
        self.options = options
        self.seed = seed
        self.batch_size = batch_size

    def _validate(self) -> None:
        super()._validate()
        if self.optimiser not in OPTIMISERS:
            raise ConfigError(
                f"objective: optimiser must be one of {', '.join(OPTIMISERS)}, "
                f"got {self.optimiser!r}"
            )
        if not isinstance(self.max_queries, int) or self.max_queries < 1:
            raise ConfigError(
                f"objective: max_queries must be an integer >= 1, got {self.max_queries!r}"
            )

    def min_queries_per_point(self) -> int:
        """The clean check, at least one candidate, the final check."""
        return 3

    # ------------------------------------------------------------------ generic API
    def optimise(
        self,
        objective: Objective,
        x0: np.ndarray,
        *,
        lower: Any = 0.0,
        upper: Any = 1.0,
        success: float | None = 0.0,
        seed: int | None = None,
    ) -> OptimResult:
        """Maximise ``objective`` over the feasible set around ``x0`` (a flat vector).

        ``success``: stop as soon as a value exceeds it (``None``: spend the whole budget).
        """
        if self.optimiser not in OPTIMISERS:
            raise ConfigError(
                f"objective: optimiser must be one of {', '.join(OPTIMISERS)}, "
                f"got {self.optimiser!r}"
            )
        x0 = np.asarray(x0, dtype=np.float64).reshape(-1)
        d = len(x0)
        lo = np.broadcast_to(np.asarray(lower, dtype=np.float64), (d,)).copy()
        hi = np.broadcast_to(np.asarray(upper, dtype=np.float64), (d,)).copy()
        bad = [i for i in list(self.integer) + list(self.immutable) if not 0 <= int(i) < d]
        if bad:
            raise ConfigError(f"objective: feature indices {bad} are outside 0..{d - 1}")
        p = _Problem(
            objective,
            x0,
            lower=lo,
            upper=hi,
            eps=self.eps,
            norm=self.norm,
            integer=[int(i) for i in self.integer],
            immutable=[int(i) for i in self.immutable],
            budget=self.max_queries,
            goal=success,
        )
        s = self.seed if seed is None else seed
        rng = np.random.default_rng(0 if s is None else s)
        pop = int(self.population or max(8, min(32, 4 + int(3 * math.log(max(p.dim, 1))))))
        try:
            if p.dim == 0:
                p.evaluate(np.zeros((1, 0)))
            else:
                p.evaluate(p.x0[p.free][None])
                _RUNNERS[self.optimiser](p, rng, pop, dict(self.options or {}))
        except _Stop:
            pass
        return OptimResult(
            x=p.best_x,
            value=p.best_v,
            queries=p.queries,
            success=p.first_success is not None,
            queries_to_success=p.first_success,
            history=p.history,
        )

    # ------------------------------------------------------------------ as an evasion attack
    def _execute(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        targeted: bool,
        eps: float | None,
        skip: EvasionResult | None,
    ) -> ObjectiveResult:
        """The base's run on a private copy that collects the queries to success, returned
        in the result (the attack the caller holds keeps no state between runs)."""
        worker = cast(ObjectiveAttack, self.clone())
        worker._queries_to_success = []
        res = EvasionAttack._execute(worker, target, x, y, targeted=targeted, eps=eps, skip=skip)
        base = {f.name: getattr(res, f.name) for f in fields(EvasionResult)}
        return ObjectiveResult(**base, queries_to_success=list(worker._queries_to_success))

    def _perturb(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        eps: float | None,
        targeted: bool,
        generator: torch.Generator,
    ) -> torch.Tensor:
        spent: list[int | None] = getattr(self, "_queries_to_success", [])
        shape = x.shape[1:]
        lower = target.lower.expand(shape).reshape(-1).cpu().numpy()
        upper = target.upper.expand(shape).reshape(-1).cpu().numpy()
        out = x.clone()
        for i in range(len(x)):
            yi = int(y[i])

            def margin(z: np.ndarray, yi: int = yi, i: int = i) -> np.ndarray:
                zt = torch.as_tensor(z, dtype=x.dtype, device=x.device).reshape(-1, *shape)
                zt = feasible_view(target, x[i : i + 1], zt)
                logits = target.logits(zt)
                true = logits[:, yi].clone()
                others = logits.clone()
                others[:, yi] = -torch.inf
                best = others.max(1).values
                m = true - best if targeted else best - true
                return m.double().cpu().numpy()  # type: ignore[no-any-return]

            seed = int(
                torch.randint(0, 2**31 - 1, (1,), generator=generator, device=generator.device)
            )
            res = self.clone(eps=eps).optimise(  # type: ignore[attr-defined]
                margin,
                x[i].reshape(-1).cpu().numpy(),
                lower=lower,
                upper=upper,
                success=0.0,
                seed=seed,
            )
            spent.append(res.queries_to_success)
            best = torch.as_tensor(res.x, dtype=x.dtype, device=x.device).reshape(1, *shape)
            out[i] = feasible_view(target, x[i : i + 1], best)[0]
        return out

"""MoEvA2: multi-objective evolutionary adversarial attack under domain constraints.

Simonetto, Dyrmishi, Ghamizi, Cordy & Le Traon, "A Unified Framework for Adversarial Attack
and Defense in Constrained Feature Space", IJCAI 2022 (https://arxiv.org/abs/2112.01156).
A genetic search (NSGA-III, Deb & Jain 2014, through ``pymoo``) over the attacker's mutable
features, one point at a time, minimising three objectives for every candidate:

1. the model's probability of the true class (of not being the target class, targeted);
2. the perturbation's norm (``norm``);
3. the constraint violation: the relations' penalty (:meth:`ConstraintSet.penalty`) plus
   the number of failed checks (bounds of defined features, ...).

Every candidate is repaired first (:func:`~advlab.constraints.repair.repair`: mutability,
bounds, types, one-hot groups, defined features), so the search moves among points that are
valid except for the non-projectable relations. Immutable and defined features are not
search variables; increase-only (decrease-only) features search above (below) their clean
value; with ``linf`` the variables' box is the eps box. Each generation costs
``population`` score queries; the search stops at the first generation holding a valid
adversarial example (misclassified, feasible, inside eps), which returns the one of smallest
norm.

Needs the optional extra ``constrained`` (``pip install 'advlab[constrained]'``: pymoo).

Example:
    >>> MoEvA2(eps=0.2, constraints=credit_constraints()).run(ScoresOnly(target), x, y)
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, ClassVar

import numpy as np
import torch

from advlab.access import Access
from advlab.attacks.evasion.base import EvasionAttack
from advlab.constraints.schema import ConstraintSet
from advlab.constraints.target import constraints_of
from advlab.errors import ConfigError
from advlab.norms import lp_norm
from advlab.registry import register_attack
from advlab.targets.base import Target
from advlab.vocab import DEFAULT_EPS


class _Found(Exception):
    """A generation held a valid adversarial example."""


def _pymoo() -> Any:
    """The pymoo pieces (imported lazily; pymoo prints a note about autograd at import)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            from pymoo.algorithms.moo.nsga3 import NSGA3
            from pymoo.core.problem import Problem
            from pymoo.optimize import minimize
            from pymoo.util.ref_dirs import get_reference_directions
    except ImportError as exc:
        raise ConfigError("moeva2 needs pymoo: pip install 'advlab[constrained]'") from exc
    return NSGA3, Problem, minimize, get_reference_directions


@register_attack
class MoEvA2(EvasionAttack):
    """NSGA-III search for feasible adversarial examples (misclassification, distance,
    constraint violation).

    Args:
        norm: ``linf`` | ``l2``.
        eps: radius of the perturbation ball (input units).
        generations: NSGA-III generations per point.
        population: candidates per generation (rounded up to the reference directions).
        constraints: a :class:`~advlab.constraints.ConstraintSet` (or ``None``).
    """

    name = "moeva2"
    requires = Access.SCORES
    norms = ("linf", "l2")
    paper = "Simonetto et al. 2022, arXiv:2112.01156"
    summary = "Multi-objective evolutionary attack (NSGA-III) for feasible examples under domain constraints."
    link = "arXiv:2112.01156"
    tags = frozenset({"modality:tabular"})
    flags = frozenset({"iterative", "query_based", "randomized", "targeted"})

    fast_params: ClassVar[dict[str, Any]] = {"generations": 3, "population": 10}

    def __init__(
        self,
        *,
        norm: str = "linf",
        eps: float | None = DEFAULT_EPS,
        generations: int = 50,
        population: int = 64,
        constraints: ConstraintSet | None = None,
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.norm = norm
        self.eps = eps
        self.generations = generations
        self.population = population
        self.constraints = constraints
        self.seed = seed
        self.batch_size = batch_size

    def _validate(self) -> None:
        super()._validate()
        for key in ("generations", "population"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"moeva2: {key} must be an integer >= 1, got {v!r}")
        if self.constraints is not None and not isinstance(self.constraints, ConstraintSet):
            raise ConfigError("moeva2: constraints must be a ConstraintSet")

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
        assert eps is not None
        out = x.clone()
        for i in range(len(x)):
            seed = int(
                torch.randint(0, 2**31 - 1, (1,), generator=generator, device=generator.device)
            )
            out[i] = self._search(target, x[i : i + 1], int(y[i]), eps, targeted, seed)[0]
        return out

    def _search(
        self, target: Target, x0: torch.Tensor, yi: int, eps: float, targeted: bool, seed: int
    ) -> torch.Tensor:
        """NSGA-III around the clean point ``x0`` (a batch of one)."""
        nsga3, problem_cls, minimize, ref_dirs_of = _pymoo()
        cs = constraints_of(target)
        shape = x0.shape[1:]
        flat0 = x0.reshape(-1).double().cpu().numpy()
        # copies: the target's bound tensors must not be edited through a shared array
        lo = np.array(target.lower.expand(shape).reshape(-1).double().cpu(), copy=True)
        hi = np.array(target.upper.expand(shape).reshape(-1).double().cpu(), copy=True)
        free = np.ones(len(flat0), dtype=bool)
        if cs is not None:
            free[cs.immutable_columns()] = False
            free[[j for j, _ in cs.definitions()]] = False
            for j, _, mut in cs.mutability():
                if mut == "increase":
                    lo[j] = flat0[j]
                elif mut == "decrease":
                    hi[j] = flat0[j]
        if self.norm == "linf":
            lo, hi = np.maximum(lo, flat0 - eps), np.minimum(hi, flat0 + eps)
        cols = np.flatnonzero(free & (hi > lo))
        if len(cols) == 0:
            return x0
        found: list[torch.Tensor] = []
        attack = self

        class _Problem(problem_cls):  # type: ignore[misc, valid-type]
            def __init__(self) -> None:
                super().__init__(n_var=len(cols), n_obj=3, xl=lo[cols], xu=hi[cols])

            def _evaluate(self, z: np.ndarray, out: dict[str, Any], *args: Any, **kw: Any) -> None:
                cand = np.repeat(flat0[None], len(z), 0)
                cand[:, cols] = z
                xt = torch.as_tensor(cand, dtype=x0.dtype, device=x0.device).reshape(-1, *shape)
                xt = target.clip(target.constrain(x0.expand_as(xt), xt))
                probs = torch.softmax(target.logits(xt).double(), 1)
                p_goal = 1 - probs[:, yi] if targeted else probs[:, yi]
                adv = probs.argmax(1) == yi if targeted else probs.argmax(1) != yi
                dist = lp_norm(xt - x0, attack.norm).double()
                viol = torch.zeros(len(xt), dtype=torch.float64, device=xt.device)
                if cs is not None:
                    v = cs.violations(xt, x0.expand_as(xt))
                    viol = cs.penalty(xt) + v.mask.sum(1).to(viol)
                valid = attack._valid(target, x0.expand_as(xt), xt, eps)
                ok = adv & (dist <= eps * (1 + 1e-5) + 1e-6)
                if valid is not None:
                    ok = ok & valid.to(ok.device)
                out["F"] = torch.stack([p_goal, dist, viol], 1).cpu().numpy()
                if bool(ok.any()):
                    hits = ok.nonzero().flatten()
                    found.append(xt[hits[dist[hits].argmin()]].unsqueeze(0))
                    raise _Found

        dirs = ref_dirs_of("das-dennis", 3, n_partitions=_partitions(self.population))
        start = np.random.default_rng(seed).uniform(
            lo[cols], hi[cols], (self.population, len(cols))
        )
        start[0] = flat0[cols]
        algorithm = nsga3(ref_dirs=dirs, pop_size=self.population, sampling=start)
        try:
            minimize(_Problem(), algorithm, ("n_gen", self.generations), seed=seed, verbose=False)
        except _Found:
            return found[-1]
        return x0


def _partitions(population: int) -> int:
    """The largest Das-Dennis partition count whose 3-objective reference set
    (``(p + 1)(p + 2) / 2`` directions) is not larger than the population."""
    p = 1
    while (p + 2) * (p + 3) // 2 <= population:
        p += 1
    return p

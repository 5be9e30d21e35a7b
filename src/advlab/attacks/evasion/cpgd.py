"""Constrained projected gradient descent (CPGD).

Simonetto, Dyrmishi, Ghamizi, Cordy & Le Traon, "A Unified Framework for Adversarial Attack
and Defense in Constrained Feature Space", IJCAI 2022 (https://arxiv.org/abs/2112.01156).
PGD whose ascent direction also descends the penalty of the domain constraints, with a
repair after every step:

1. one gradient of the model's loss at the iterate (counted by the target's meter) and one
   of the constraint penalty (:meth:`ConstraintSet.penalty`, computed locally: it is the
   attacker's own knowledge of the domain, not a query);
2. with ``chain_definitions`` (an addition to the paper's CPGD), the loss gradient is
   chained through the features the repair recomputes from others (``instalment`` from
   ``amount``, ``rate`` and ``term``): their own coordinates get no step (the repair would
   overwrite it) and the features they are computed from get its effect;
3. the direction is the steepest-ascent step of ``g / |g|_2 - penalty_weight * p / |p|_2``
   (``g`` the loss gradient, ``p`` the penalty gradient, each unit-normalised so that
   neither dominates by its units; ``p = 0`` where the relations hold);
4. projection onto the eps ball, then the exact repair of
   :func:`~advlab.constraints.repair.repair` (mutability, bounds, types, one-hot groups,
   defined features), then the bounds;
5. a point stops at its first iterate that is adversarial **and** feasible and inside the
   eps ball (per-sample early stop; the best iterate is kept).

Without constraints it is PGD with an evaluation of the last iterate. Constraints come from
the ``constraints`` parameter or ``run(..., constraints=...)``.

Example:
    >>> from advlab.data.credit import credit_constraints
    >>> CPGD(eps=0.2, constraints=credit_constraints()).run(target, x, y).feasible.all()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch

from advlab.access import Access
from advlab.attacks.evasion.base import EvasionAttack
from advlab.attacks.evasion.iterative import Goal
from advlab.constraints.schema import ConstraintSet
from advlab.constraints.target import constraints_of
from advlab.errors import ConfigError
from advlab.losses import get_loss
from advlab.norms import lp_norm, project, random_in_ball, steepest
from advlab.registry import register_attack
from advlab.targets.base import Target
from advlab.utils import per_sample
from advlab.vocab import DEFAULT_EPS


@register_attack
class CPGD(EvasionAttack):
    """Constrained PGD: loss ascent plus constraint-penalty descent, repaired every step.

    Args:
        norm: ``linf`` | ``l2``.
        eps: radius of the perturbation ball (input units).
        steps: iterations per restart.
        step_size: step length; default ``2.5 * eps / steps``.
        penalty_weight: weight of the unit-normalised penalty gradient against the loss's.
        chain_definitions: chain the loss gradient through the defined features (see the
            module docstring); ``False`` is the paper's CPGD.
        random_start: start from a random point of the ball (repaired) instead of ``x``.
        restarts: runs on the points not yet broken.
        loss: ``ce`` | ``margin`` | ``dlr``.
        constraints: a :class:`~advlab.constraints.ConstraintSet` (or ``None``).
    """

    name = "cpgd"
    requires = Access.GRADIENTS
    norms = ("linf", "l2")
    paper = "Simonetto et al. 2022, arXiv:2112.01156"
    summary = "Constrained PGD: ascends the loss while descending domain-constraint penalties, repairing each step."
    link = "arXiv:2112.01156"
    tags = frozenset({"modality:tabular"})
    flags = frozenset({"iterative", "targeted"})

    fast_params: ClassVar[dict[str, Any]] = {"steps": 5}

    def __init__(
        self,
        *,
        norm: str = "linf",
        eps: float | None = DEFAULT_EPS,
        steps: int = 50,
        step_size: float | None = None,
        penalty_weight: float = 1.0,
        chain_definitions: bool = True,
        random_start: bool = False,
        restarts: int = 1,
        loss: str = "ce",
        constraints: ConstraintSet | None = None,
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.norm = norm
        self.eps = eps
        self.steps = steps
        self.step_size = step_size
        self.penalty_weight = penalty_weight
        self.chain_definitions = chain_definitions
        self.random_start = random_start
        self.restarts = restarts
        self.loss = loss
        self.constraints = constraints
        self.seed = seed
        self.batch_size = batch_size

    def _validate(self) -> None:
        super()._validate()
        if not isinstance(self.steps, int) or isinstance(self.steps, bool) or self.steps < 1:
            raise ConfigError(f"cpgd: steps must be an integer >= 1, got {self.steps!r}")
        if self.step_size is not None:
            self._positive(step_size=self.step_size)
        if not (isinstance(self.penalty_weight, (int, float)) and self.penalty_weight >= 0):
            raise ConfigError(f"cpgd: penalty_weight must be >= 0, got {self.penalty_weight!r}")
        if self.constraints is not None and not isinstance(self.constraints, ConstraintSet):
            raise ConfigError("cpgd: constraints must be a ConstraintSet")
        get_loss(self.loss)

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
        cs = constraints_of(target)
        goal = Goal.of(self.loss, y, targeted)
        alpha = self.step_size if self.step_size is not None else 2.5 * eps / self.steps

        def proj(x0: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
            return target.clip(target.constrain(x0, x0 + project(p - x0, eps, self.norm)))

        x_k = x.clone()
        if self.random_start:
            noise = random_in_ball(x.shape, eps, self.norm, generator=generator, device=x.device)
            x_k = proj(x, x + noise)
        best = x_k.clone()
        active = torch.arange(len(x), device=x.device)
        for t in range(self.steps + 1):
            xa, x0 = x_k[active], x[active]
            grad, logits = target.gradient(xa, _rows(goal, active))
            hit = goal.success(logits, active)
            valid = self._valid(target, x0, xa, eps)
            if valid is not None:
                hit = hit & valid.to(hit.device)
            if bool(hit.any()):
                best[active[hit]] = xa[hit]
                keep = ~hit
                active, xa, x0, grad = active[keep], xa[keep], x0[keep], grad[keep]
            if len(active) == 0 or t == self.steps:
                break
            if cs is not None and self.chain_definitions:
                grad = _through_definitions(cs, xa, grad)
            direction = _unit(grad)
            if cs is not None and self.penalty_weight > 0:
                direction = direction - self.penalty_weight * _unit(_penalty_grad(cs, xa))
            x_k[active] = proj(x0, xa + alpha * steepest(direction, self.norm))
        if len(active):
            best[active] = x_k[active]
        return best


def _rows(goal: Goal, idx: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The goal's per-sample objective for the batch rows ``idx``."""

    def objective(z: torch.Tensor) -> torch.Tensor:
        return goal.objective(z, idx)

    return objective


def _through_definitions(cs: ConstraintSet, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """The loss gradient at ``x`` chained through the features the repair recomputes: the
    gradient of ``L(d(x))`` with ``d`` the definitions, i.e. ``J_d(x)^T grad`` (zero on
    the defined features themselves, whose own steps the repair would overwrite)."""
    defs = cs.definitions()
    if not defs:
        return grad
    with torch.enable_grad():
        xi = x.detach().reshape(len(x), -1).double().requires_grad_(True)
        cols = list(cs.to_raw(xi).unbind(1))
        for j, rel in defs:
            cols[j] = rel.right.evaluate(dict(zip(cs.names, cols, strict=True)))  # type: ignore[attr-defined]
        out = cs.to_input(torch.stack(cols, 1), torch.float64)
        g = torch.nan_to_num(grad.detach().reshape(len(x), -1).double())
        (chained,) = torch.autograd.grad(out, xi, grad_outputs=g)
    return torch.nan_to_num(chained).to(grad.dtype).reshape(grad.shape)


def _unit(g: torch.Tensor) -> torch.Tensor:
    """``g`` divided by its per-sample L2 norm (zero rows stay zero)."""
    g = torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
    return g / per_sample(lp_norm(g, "l2").clamp_min(1e-12), g)


def _penalty_grad(cs: ConstraintSet, x: torch.Tensor) -> torch.Tensor:
    """Gradient of the constraint penalty w.r.t. the inputs ``x`` (local, not a query)."""
    if not cs.relations:
        return torch.zeros_like(x)
    with torch.enable_grad():
        xi = x.detach().clone().requires_grad_(True)
        pen = cs.penalty(xi)
        (grad,) = torch.autograd.grad(pen.sum(), xi, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad.to(x.dtype)

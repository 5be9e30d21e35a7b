"""Template for evasion attacks: the base class owns the bookkeeping, subclasses the algorithm.

:meth:`EvasionAttack.run` is final. It validates inputs (shape, bounds, NaN, labels),
checks the access level, seeds, batches, attacks only points that are still robust,
repeats ``restarts`` times on points not yet broken, projects the output onto the eps ball
and the bounds, re-checks success with one independent query, meters queries and gradient
calls, and catches an exhausted query budget (the result then says it stopped early).
Subclasses implement :meth:`EvasionAttack._perturb` and nothing else.
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, final

import torch

from advlab.access import Access
from advlab.attacks.base import Attack
from advlab.constraints.schema import ConstraintSet
from advlab.constraints.target import constrained
from advlab.errors import BudgetExhausted, ConfigError, InputError, TargetUnavailable
from advlab.norms import check_norm, lp_norm, project
from advlab.results import EvasionResult, SweepResult
from advlab.targets.base import Target
from advlab.utils import as_labels, make_generator, progress_bar

log = logging.getLogger(__name__)

_EPS_TOL = 1e-5


class EvasionAttack(Attack):
    """Base of every evasion attack.

    Subclass contract: set ``name``, ``requires``, ``norms``, ``paper``, ``summary``; store
    keyword-only constructor arguments including ``norm``, ``eps``, ``seed``, ``batch_size``
    (and ``restarts`` when meaningful); implement :meth:`_perturb`.
    Minimum-norm attacks (C&W, DeepFool) declare flag ``minimal_norm``: ``eps=None`` is allowed and
    a sweep is computed from one run's per-point norms.
    """

    family: ClassVar[str] = "evasion"
    requires: ClassVar[Access] = Access.GRADIENTS
    norms: ClassVar[tuple[str, ...]] = ("linf", "l2")

    @classmethod
    def derived_tags(cls) -> set[str]:
        """The family's tags plus ``norm:`` for every supported norm."""
        return super().derived_tags() | {f"norm:{n}" for n in cls.norms}

    norm: str
    eps: float | None
    seed: int | None
    batch_size: int

    # ------------------------------------------------------------------ subclass API
    @abstractmethod
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
        """Return adversarial candidates for the batch ``x`` (labels / targets ``y``)."""

    def _validate(self) -> None:
        """Check constructor arguments; subclasses extend and call ``super()``."""
        check_norm(self.norm, self.norms)
        if self.eps is None:
            if not self.has("minimal_norm"):
                raise ConfigError(f"{self.name}: eps is required")
        else:
            self._positive(eps=self.eps)
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"{self.name}: batch_size must be a positive integer")
        restarts = getattr(self, "restarts", 1)
        if not isinstance(restarts, int) or restarts < 1:
            raise ConfigError(f"{self.name}: restarts must be an integer >= 1, got {restarts!r}")

    # ------------------------------------------------------------------ public API
    @final
    def run(
        self,
        target: Target,
        x: Any,
        y: Any = None,
        *,
        targeted: bool = False,
        eps: float | None = None,
        constraints: ConstraintSet | None = None,
    ) -> EvasionResult:
        """Attack ``x`` (true labels ``y``; target labels when ``targeted``).

        ``y=None`` uses the target's own predictions. ``eps`` overrides the constructor's.
        ``constraints`` (else the attack's own ``constraints`` parameter, if any): domain
        constraints repaired in every projection; only feasible points count as broken.
        """
        if eps is not None:
            return self.clone(eps=eps).run(target, x, y, targeted=targeted, constraints=constraints)  # type: ignore[attr-defined, no-any-return]
        target = self._constrained(target, constraints)
        xt, yt = self._prepare(target, x, y, targeted)
        return self._execute(target, xt, yt, targeted=targeted, eps=self.eps, skip=None)

    def sweep(
        self,
        target: Target,
        x: Any,
        y: Any = None,
        *,
        eps: Sequence[float],
        targeted: bool = False,
        constraints: ConstraintSet | None = None,
    ) -> SweepResult:
        """Robust accuracy per eps. Points broken at a smaller eps count as broken at larger
        ones (the smaller ball is inside the larger), so the curve is non-increasing and only
        still-robust points are attacked again."""
        eps_list = sorted(float(e) for e in eps)
        if not eps_list or any(e <= 0 for e in eps_list):
            raise ConfigError(f"{self.name}: eps must be a non-empty list of positive numbers")
        t0 = time.perf_counter()
        q0, g0 = target.meter.snapshot()
        target = self._constrained(target, constraints)
        xt, yt = self._prepare(target, x, y, targeted)
        results: list[EvasionResult] = []
        if self.has("minimal_norm"):
            base = self.clone(eps=None)._execute(  # type: ignore[attr-defined]
                target, xt, yt, targeted=targeted, eps=None, skip=None
            )
            for e in eps_list:
                results.append(_restrict(base, e, xt))
        else:
            prev: EvasionResult | None = None
            for e in eps_list:
                res = self.clone(eps=e)._execute(  # type: ignore[attr-defined]
                    target, xt, yt, targeted=targeted, eps=e, skip=prev
                )
                results.append(res)
                prev = res
        q1, g1 = target.meter.snapshot()
        return SweepResult(
            attack=self.name,
            params=self.get_params(),
            seed=self.seed,
            queries=q1 - q0,
            gradient_calls=g1 - g0,
            seconds=time.perf_counter() - t0,
            target=target.describe(),
            stopped_early=any(r.stopped_early for r in results),
            eps=eps_list,
            norm=self.norm,
            results=results,
        )

    # ------------------------------------------------------------------ internals
    def _constrained(self, target: Target, constraints: ConstraintSet | None) -> Target:
        """``target`` under the run's constraints, else the attack's own, else unchanged."""
        cs = constraints if constraints is not None else getattr(self, "constraints", None)
        return constrained(target, cs)

    def _prepare(
        self, target: Target, x: Any, y: Any, targeted: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self._validate()
        if targeted and not self.has("targeted"):
            raise ConfigError(f"{self.name} has no targeted mode")
        target.require(self.requires, self.name)
        xt = target.check_inputs(x)
        if y is None:
            if targeted:
                raise InputError(f"{self.name}: targeted attacks need target labels y")
            yt = target.labels(xt)
        else:
            yt = as_labels(y, device=target.device).reshape(-1)
            if len(yt) != len(xt):
                raise InputError(f"got {len(xt)} inputs but {len(yt)} labels")
            if len(yt) and (int(yt.min()) < 0 or int(yt.max()) >= target.num_classes):
                raise InputError(
                    f"labels must be in 0..{target.num_classes - 1}, got {int(yt.min())}..{int(yt.max())}"
                )
        return xt, yt

    def _execute(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        targeted: bool,
        eps: float | None,
        skip: EvasionResult | None,
    ) -> EvasionResult:
        t0 = time.perf_counter()
        q0, g0 = target.meter.snapshot()
        gen = make_generator(self.seed, target.device)
        n = len(x)
        x_adv = x.clone()
        success = torch.zeros(n, dtype=torch.bool, device=x.device)
        stopped, message = False, ""
        attacked = rejected = 0
        try:
            if skip is None:
                pred = target.labels(x)
                clean_correct = pred != y if targeted else pred == y
            else:  # reuse a previous (smaller-eps) run: its breaks stay valid
                clean_correct = skip.clean_correct.to(x.device)
                prev_success = skip.success.to(x.device)
                success |= prev_success
                x_adv[prev_success] = skip.x_adv.to(x.device)[prev_success]
            todo = (clean_correct & ~success).nonzero().flatten()
            attacked = n - len(todo)
            # a minimum-norm attack runs its own restarts (they also shrink broken points' norms)
            restarts = 1 if self.has("minimal_norm") else int(getattr(self, "restarts", 1))
            with progress_bar(f"{self.name}", len(todo)) as advance:
                for start in range(0, len(todo), self.batch_size):
                    idx = todo[start : start + self.batch_size]
                    for _ in range(restarts):
                        if len(idx) == 0:
                            break
                        cand = self._perturb(
                            target, x[idx], y[idx], eps=eps, targeted=targeted, generator=gen
                        )
                        cand = self._enforce(target, x[idx], cand, eps)
                        pred = target.labels(cand)
                        ok = pred == y[idx] if targeted else pred != y[idx]
                        valid = self._valid(target, x[idx], cand, eps)
                        if valid is not None:
                            rejected += int((ok & ~valid).sum())
                            ok = ok & valid
                        x_adv[idx[ok]] = cand[ok]
                        success[idx[ok]] = True
                        idx = idx[~ok]
                    attacked += min(self.batch_size, len(todo) - start)
                    advance(min(self.batch_size, len(todo) - start))
        except (BudgetExhausted, TargetUnavailable) as exc:
            stopped = True
            message = f"{exc}; attacked {attacked} of {n} points"
            log.warning("%s stopped early: %s", self.name, message)
            if skip is None and "clean_correct" not in locals():
                clean_correct = torch.zeros(n, dtype=torch.bool, device=x.device)
        delta = x_adv - x
        norms = lp_norm(delta, self.norm)
        self._verify(target, x, x_adv, norms, eps)
        feasible = target.feasible(x, x_adv)
        if feasible is not None and bool((success & ~feasible.to(success.device)).any()):
            raise AssertionError(f"{self.name}: returned an infeasible point as a success")
        q1, g1 = target.meter.snapshot()
        return EvasionResult(
            attack=self.name,
            params=self.get_params(),
            seed=self.seed,
            queries=q1 - q0,
            gradient_calls=g1 - g0,
            seconds=time.perf_counter() - t0,
            target=target.describe(),
            stopped_early=stopped,
            message=message,
            x_adv=x_adv.detach().cpu(),
            y=y.detach().cpu(),
            eps=eps,
            norm=self.norm,
            targeted=targeted,
            clean_correct=clean_correct.detach().cpu(),
            success=success.detach().cpu(),
            norms=norms.detach().cpu(),
            attacked=attacked,
            feasible=None if feasible is None else feasible.detach().cpu(),
            rejected=rejected,
        )

    def _valid(
        self, target: Target, x: torch.Tensor, cand: torch.Tensor, eps: float | None
    ) -> torch.Tensor | None:
        """Per candidate: feasible under the target's domain constraints and, since a repair
        may move a point, still inside the eps ball (``None``: no domain constraints)."""
        ok = target.feasible(x, cand)
        if ok is None or eps is None:
            return ok
        return ok & (lp_norm(cand - x, self.norm) <= eps * (1 + _EPS_TOL) + 1e-6)

    def _enforce(
        self, target: Target, x: torch.Tensor, cand: torch.Tensor, eps: float | None
    ) -> torch.Tensor:
        """Project candidates onto the eps ball, apply the target's constraints
        (:meth:`Target.constrain`), then clip to the bounds."""
        if cand.shape != x.shape:
            raise RuntimeError(
                f"{self.name} returned shape {tuple(cand.shape)}, expected {tuple(x.shape)}"
            )
        cand = torch.nan_to_num(cand.detach(), nan=0.0)
        delta = cand - x
        if eps is not None:
            over = float((lp_norm(delta, self.norm) - eps).max()) if len(x) else 0.0
            if over > _EPS_TOL * max(eps, 1.0):
                log.debug("%s returned points %.3g outside eps; projected", self.name, over)
            delta = project(delta, eps, self.norm)
        return target.clip(target.constrain(x, x + delta))

    def _verify(
        self,
        target: Target,
        x: torch.Tensor,
        x_adv: torch.Tensor,
        norms: torch.Tensor,
        eps: float | None,
    ) -> None:
        """Independent re-check of the returned points (a failure here is an advlab bug)."""
        lo, hi = target.lower, target.upper
        if bool((x_adv < lo - 1e-6).any()) or bool((x_adv > hi + 1e-6).any()):
            raise AssertionError(f"{self.name}: returned points outside the target's bounds")
        if eps is not None and len(norms) and float(norms.max()) > eps * (1 + _EPS_TOL) + 1e-6:
            raise AssertionError(
                f"{self.name}: returned a perturbation of norm {float(norms.max()):.6g} > eps {eps}"
            )


def _restrict(base: EvasionResult, eps: float, x: torch.Tensor) -> EvasionResult:
    """A minimum-norm run seen at a fixed eps: breaks with norm > eps are reverted to ``x``."""
    ok = base.success & (base.norms <= eps * (1 + _EPS_TOL))
    x_cpu = x.detach().cpu()
    mask = ok.reshape(-1, *([1] * (x_cpu.dim() - 1)))
    res = EvasionResult(**{**base.__dict__})
    res.eps = eps
    res.success = ok
    res.x_adv = torch.where(mask, base.x_adv, x_cpu)
    res.norms = torch.where(ok, base.norms, torch.zeros_like(base.norms))
    return res

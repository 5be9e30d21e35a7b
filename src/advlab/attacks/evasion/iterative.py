"""The shared core of gradient-iterative evasion attacks (FGSM, PGD, APGD, MI-FGSM, NI-FGSM).

Modelled on Foolbox 3's gradient-descent base (Rauber et al., JOSS 2020,
https://github.com/bethgelab/foolbox ``attacks/gradient_descent_base.py``): the base owns the
loop, a subclass owns the update. :meth:`GradientIterativeAttack._iterate` runs, per batch:

1. **start**: ``x``, or a uniform point of the eps ball with ``random_start``
   (:meth:`~GradientIterativeAttack._start`);
2. for ``t = 0, 1, ...``: one gradient of the loss at the evaluation point of every point
   still **active** (robust so far) — the iterate itself, or a look-ahead point
   (:meth:`~GradientIterativeAttack._lookahead`, projected into the threat model);
3. **per-sample early stop**: a point whose evaluation point is adversarial leaves the batch
   and keeps that point (the **best iterate**; a point never broken keeps
   :meth:`~GradientIterativeAttack._finish`'s choice, by default its last iterate);
4. the subclass's **update**: :meth:`~GradientIterativeAttack._observe` (bookkeeping on the
   new gradient and loss, may move the iterate), :meth:`~GradientIterativeAttack._direction`
   (e.g. the sign of a momentum) and :meth:`~GradientIterativeAttack._step` (e.g.
   ``x + step_size * direction``);
5. **projection** onto the eps ball, the target's constraints (a repair, e.g. domain
   constraints) and **clipping** to the target's bounds;
6. the **exact cycle check** (see below) for attacks whose update is memoryless.

Restarts on the points not yet broken, the independent success re-check and the meters are
:class:`~advlab.attacks.evasion.base.EvasionAttack`'s; every gradient is counted by the
target's meter, and :class:`Iterates` reports the gradients spent per point.

Exact cycle check. When an update is a deterministic function of the iterate alone
(:meth:`~GradientIterativeAttack._memoryless`: no momentum, no per-point state) and the
target is deterministic, an iterate equal to one of the two before it means the sequence
repeats with period 1 or 2 for all remaining steps, and every point of that cycle has been
evaluated and found not adversarial: no later step can succeed. The point leaves the batch
with the iterate the full run would have ended on. Targets flagged ``deterministic = False``
(randomized defenses) never use it.

Subclass contract: set the usual evasion metadata, store ``steps`` (and the parameters the
hooks read), implement :meth:`~GradientIterativeAttack._step_size`, and override only the
hooks whose default does not fit (:meth:`~GradientIterativeAttack._goal` for another
objective or success criterion, ``_start``, ``_init_state``, ``_memoryless``,
``_lookahead``, ``_observe``, ``_direction``, ``_step``, ``_finish``). Hooks get the iterates, gradients and directions of the
active points, and a :class:`StepState` with their batch rows ``idx``, their clean inputs,
the projection, and ``rows``: the attack's per-point state for the whole batch, indexed
with ``idx`` (no copy of the state is made per step).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from advlab.attacks.evasion.base import EvasionAttack
from advlab.errors import ConfigError
from advlab.losses import get_loss
from advlab.norms import project, random_in_ball, steepest
from advlab.targets.base import Target
from advlab.utils import per_sample

RowFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``fn(logits, idx)`` for the batch rows ``idx``: a per-sample loss or success mask."""


@dataclass(frozen=True)
class Goal:
    """What the attack maximises and when a point counts as broken.

    ``objective(logits, idx)`` is the per-sample loss to ascend, ``success(logits, idx)`` the
    per-sample adversarial mask, both for the batch rows ``idx``.
    """

    objective: RowFn
    success: RowFn

    @staticmethod
    def of(loss: str, y: torch.Tensor, targeted: bool) -> Goal:
        """The usual goal: ascend ``loss`` w.r.t. labels ``y`` (descend towards ``y`` when
        ``targeted``); broken when the prediction leaves ``y`` (reaches it when targeted)."""
        fn = get_loss(loss, targeted=targeted)

        def objective(z: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
            return fn(z, y[idx])

        def success(z: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
            pred = z.argmax(1)
            return pred == y[idx] if targeted else pred != y[idx]

        return Goal(objective, success)


@dataclass
class StepState:
    """What the hooks see at step ``t`` for the active points (in batch order ``idx``)."""

    t: int
    """Step index: 0 at the start point, ``t`` after ``t`` updates."""
    idx: torch.Tensor
    """Batch rows of the active points."""
    x0: torch.Tensor
    """Their clean inputs."""
    eps: float
    step_size: float
    rows: dict[str, torch.Tensor]
    """The attack's per-point state for the whole batch (see
    :meth:`GradientIterativeAttack._init_state`); hooks read and write the rows ``idx``."""
    project: Callable[[torch.Tensor], torch.Tensor] = field(repr=False)
    """Projection of candidates for these points onto the eps ball and the bounds."""


@dataclass
class Iterates:
    """Outcome of one :meth:`GradientIterativeAttack._iterate` run on a batch."""

    x: torch.Tensor
    """First adversarial point, else the :meth:`GradientIterativeAttack._finish` choice."""
    adversarial: torch.Tensor
    """Per-point mask: an evaluated point was adversarial."""
    gradient_calls: torch.Tensor
    """Per-point number of gradients taken (their sum is what the meter charged)."""


class GradientIterativeAttack(EvasionAttack):
    """Base of the gradient-iterative attacks; see the module docstring for the loop."""

    flags: ClassVar[frozenset[str]] = frozenset({"iterative", "targeted"})
    evaluate_final: ClassVar[bool] = False
    """Also take the gradient at the last iterate (attacks whose :meth:`_finish` needs its loss)."""
    needs_loss: ClassVar[bool] = False
    """Pass the per-sample loss to :meth:`_observe` (one extra loss evaluation on the logits)."""

    steps: int
    loss: str = "ce"
    random_start: bool = False
    cycle_check: bool = True

    # ------------------------------------------------------------------ hooks
    def _goal(self, y: torch.Tensor, targeted: bool) -> Goal:
        """What to ascend and when a point is broken, for labels (or targets) ``y``."""
        return Goal.of(self.loss, y, targeted)

    def _step_size(self, eps: float) -> float:
        """Length of one step for the budget ``eps`` (the attack's ``step_size`` rule)."""
        raise NotImplementedError

    def _start(
        self, target: Target, x: torch.Tensor, eps: float, generator: torch.Generator
    ) -> torch.Tensor:
        """The first iterate: a uniform point of the ball when ``random_start``, else ``x``."""
        if not self.random_start:
            return x.clone()
        return target.clip(
            x + random_in_ball(x.shape, eps, self.norm, generator=generator, device=x.device)
        )

    def _init_state(
        self, x: torch.Tensor, x_start: torch.Tensor, eps: float
    ) -> dict[str, torch.Tensor]:
        """Per-point state for the batch ``x`` started at ``x_start`` (tensors with one row
        per point, e.g. a momentum); none by default."""
        return {}

    def _memoryless(self) -> bool:
        """The update is a function of the current iterate alone (enables the cycle check)."""
        return True

    def _lookahead(self, x: torch.Tensor, state: StepState) -> torch.Tensor:
        """Where the gradient is taken for the iterates ``x`` (the iterate itself by default;
        a look-ahead must be projected with ``state.project``: it doubles as a candidate)."""
        return x

    def _observe(
        self,
        x: torch.Tensor,
        grad: torch.Tensor,
        loss: torch.Tensor | None,
        state: StepState,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Bookkeeping after the gradient at ``x`` (``loss`` when :attr:`needs_loss`);
        returns the iterate and gradient to step from. Called on the robust points only."""
        return x, grad

    def _direction(self, grad: torch.Tensor, state: StepState) -> torch.Tensor:
        """The ascent direction from the gradient: the steepest-ascent unit step by default."""
        return steepest(grad, self.norm)

    def _step(self, x: torch.Tensor, direction: torch.Tensor, state: StepState) -> torch.Tensor:
        """The next iterate before projection: ``x + step_size * direction`` by default."""
        return x + state.step_size * direction

    def _finish(self, x_last: torch.Tensor, rows: dict[str, torch.Tensor]) -> torch.Tensor:
        """The point returned for never-broken points (full batch): the last iterate."""
        return x_last

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        super()._validate()
        if not isinstance(self.steps, int) or isinstance(self.steps, bool) or self.steps < 1:
            raise ConfigError(f"{self.name}: steps must be an integer >= 1, got {self.steps!r}")
        step_size = getattr(self, "step_size", None)
        if step_size is not None:
            self._positive(step_size=step_size)

    # ------------------------------------------------------------------ the loop
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
        return self._iterate(target, x, self._goal(y, targeted), eps=eps, generator=generator).x

    def _iterate(
        self,
        target: Target,
        x: torch.Tensor,
        goal: Goal,
        *,
        eps: float,
        generator: torch.Generator,
    ) -> Iterates:
        """Run the loop on the batch ``x`` (see the module docstring)."""
        n = len(x)
        alpha = self._step_size(eps)
        x_k = self._start(target, x, eps, generator)
        rows = self._init_state(x, x_k, eps)
        best = x_k.clone()
        found = torch.zeros(n, dtype=torch.bool, device=x.device)
        calls = torch.zeros(n, dtype=torch.long, device=x.device)
        cycles = (
            bool(self.cycle_check)
            and self._memoryless()
            and bool(getattr(target, "deterministic", False))
        )
        prev = x_k.clone() if cycles else x_k  # the iterate before x_k (from step 1 on)
        active = torch.arange(n, device=x.device)
        for t in range(self.steps + 1 if self.evaluate_final else self.steps):
            x0 = x[active]
            state = StepState(t, active, x0, eps, alpha, rows, self._projector(target, x0, eps))
            xa = x_k[active]
            xe = self._lookahead(xa, state)
            grad, logits = target.gradient(xe, _bind(goal.objective, active))
            calls[active] += 1
            hit = goal.success(logits, active)
            loss = None
            if self.needs_loss:
                with torch.no_grad():
                    loss = goal.objective(logits, active)
            if bool(hit.any()):
                best[active[hit]] = xe[hit]
                found[active[hit]] = True
                keep = ~hit
                active, xa, grad, x0 = active[keep], xa[keep], grad[keep], x0[keep]
                loss = None if loss is None else loss[keep]
                if len(active) == 0:
                    break
                state = StepState(t, active, x0, eps, alpha, rows, self._projector(target, x0, eps))
            xa, grad = self._observe(xa, grad, loss, state)
            if t == self.steps:  # evaluate_final: the last gradient only feeds _observe
                break
            new = state.project(self._step(xa, self._direction(grad, state), state))
            if not cycles:
                x_k[active] = new
                continue
            same1 = _rows_equal(new, xa)
            same2 = _rows_equal(new, prev[active]) if t > 0 else torch.zeros_like(same1)
            prev[active] = xa
            x_k[active] = new
            done = same1 | same2
            if bool(done.any()):
                # period 1: x stays put; period 2: x alternates new, xa, new, ... and the
                # run would end on xa when an odd number of steps is left
                odd = (self.steps - (t + 1)) % 2 == 1
                final = torch.where(per_sample(same2 & ~same1 & odd, new), xa, new)
                best[active[done]] = final[done]
                active = active[~done]
                if len(active) == 0:
                    break
        if len(active):
            best[active] = self._finish(x_k, rows)[active]
        return Iterates(best, found, calls)

    def _projector(
        self, target: Target, x0: torch.Tensor, eps: float
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """Projection onto the eps ball around ``x0`` (``norm``), the target's constraints
        (:meth:`Target.constrain`: a repair after every step), then clipping to the bounds."""
        norm = self.norm

        def proj(p: torch.Tensor) -> torch.Tensor:
            return target.clip(target.constrain(x0, x0 + project(p - x0, eps, norm)))

        return proj


def _bind(fn: RowFn, idx: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The per-sample objective of the rows ``idx``."""
    return lambda z: fn(z, idx)


def _rows_equal(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample exact equality of two batches."""
    return (a == b).flatten(1).all(1)

"""Projected gradient descent (PGD).

Madry, Makelov, Schmidt, Tsipras & Vladu, "Towards Deep Learning Models Resistant to
Adversarial Attacks", ICLR 2018 (https://arxiv.org/abs/1706.06083). Iterated steepest-ascent
steps of the loss, each projected back onto the eps ball and the input bounds, from a random
start. MNIST recipe: eps 0.3, 40 steps of 0.01.

Each step costs one forward + one backward for the points still robust: a point is frozen
at the first iterate found adversarial (per-sample early stop, best iterate kept), so the
returned point is adversarial whenever any iterate was.

Cycle check (exact, on by default). Without momentum, a PGD step is a deterministic map of
the iterate alone when the target is deterministic. So once an iterate equals one of the two
before it, the sequence repeats with period 1 or 2 for all remaining steps, and every point
of that cycle has already been evaluated and found not adversarial: no later step can
succeed. Such a point leaves the batch with the iterate the full run would have ended on.
With the sign steps of L-inf PGD this is common on robust points (iterates settle on
corners of the eps box, or alternate between two): on the digits CNNs it saves 25-30% of
the forward+backward passes at eps 0.1 with identical results (docs/benchmarks.md).
Targets flagged ``deterministic = False`` (randomized defenses) never use it.

Example:
    >>> PGD(norm="linf", eps=0.1, steps=40).run(target, x, y).robust_accuracy
"""

from __future__ import annotations

import torch

from advlab.access import Access
from advlab.attacks.evasion.base import EvasionAttack
from advlab.errors import ConfigError
from advlab.losses import LossFn, get_loss
from advlab.norms import project, random_in_ball, steepest
from advlab.registry import register_attack
from advlab.targets.base import Objective, Target
from advlab.utils import per_sample


@register_attack
class PGD(EvasionAttack):
    """PGD with random start, restarts and per-sample early stop.

    Args:
        norm: ``linf`` | ``l2`` | ``l1``.
        eps: radius of the perturbation ball.
        steps: iterations per restart.
        step_size: step length; default ``2.5 * eps / steps``.
        random_start: start from a uniform point in the ball.
        restarts: runs on the points not yet broken; the first success is kept.
        loss: ``ce`` | ``margin`` | ``dlr``.
        cycle_check: stop a point whose iterates repeat (exact; see the module docstring).
    """

    name = "pgd"
    requires = Access.GRADIENTS
    norms = ("linf", "l2", "l1")
    paper = "Madry et al. 2018, arXiv:1706.06083"
    summary = "Projected gradient descent with random start and restarts (multi-step FGSM)."
    flags = frozenset({"iterative", "randomized", "targeted"})
    suite_params = {"gradients": {"steps": 40}}

    def __init__(
        self,
        *,
        norm: str = "linf",
        eps: float | None = 8 / 255,
        steps: int = 40,
        step_size: float | None = None,
        random_start: bool = True,
        restarts: int = 1,
        loss: str = "ce",
        cycle_check: bool = True,
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.norm = norm
        self.eps = eps
        self.steps = steps
        self.step_size = step_size
        self.random_start = random_start
        self.restarts = restarts
        self.loss = loss
        self.cycle_check = cycle_check
        self.seed = seed
        self.batch_size = batch_size

    def _validate(self) -> None:
        super()._validate()
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ConfigError(f"pgd: steps must be an integer >= 1, got {self.steps!r}")
        if self.step_size is not None:
            self._positive(step_size=self.step_size)
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
        fn = get_loss(self.loss, targeted=targeted)
        alpha = self.step_size if self.step_size is not None else 2.5 * eps / self.steps
        x_k = x.clone()
        if self.random_start:
            x_k = target.clip(
                x + random_in_ball(x.shape, eps, self.norm, generator=generator, device=x.device)
            )
        best = x_k.clone()
        cycles = bool(self.cycle_check) and bool(getattr(target, "deterministic", False))
        prev = x_k.clone() if cycles else x_k  # the iterate before x_k (from step 2 on)
        active = torch.arange(len(x), device=x.device)
        for t in range(self.steps):
            xa, ya = x_k[active], y[active]
            grad, logits = target.gradient(xa, _bind(fn, ya))
            pred = logits.argmax(1)
            hit = pred == ya if targeted else pred != ya
            if bool(hit.any()):
                best[active[hit]] = xa[hit]
                keep = ~hit
                active, xa, grad = active[keep], xa[keep], grad[keep]
                if len(active) == 0:
                    return best
            step = xa + alpha * steepest(grad, self.norm)
            new = target.clip(x[active] + project(step - x[active], eps, self.norm))
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
                    return best
        best[active] = x_k[active]
        return best


def _rows_equal(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample exact equality of two batches."""
    return (a == b).flatten(1).all(1)


def _bind(fn: LossFn, y: torch.Tensor) -> Objective:
    """The per-sample objective ``fn(logits, y)`` for fixed labels."""
    return lambda z: fn(z, y)

"""Projected gradient descent (PGD).

Madry, Makelov, Schmidt, Tsipras & Vladu, "Towards Deep Learning Models Resistant to
Adversarial Attacks", ICLR 2018 (https://arxiv.org/abs/1706.06083). Iterated steepest-ascent
steps of the loss, each projected back onto the eps ball and the input bounds, from a random
start. MNIST recipe: eps 0.3, 40 steps of 0.01.

Each step costs one forward + one backward for the points still robust: a point is frozen
at the first iterate found adversarial (per-sample early stop, best iterate kept), so the
returned point is adversarial whenever any iterate was.

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
    """

    name = "pgd"
    requires = Access.GRADIENTS
    norms = ("linf", "l2", "l1")
    paper = "Madry et al. 2018, arXiv:1706.06083"
    summary = "Projected gradient descent with random start and restarts (multi-step FGSM)."

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
        active = torch.arange(len(x), device=x.device)
        for _ in range(self.steps):
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
            x_k[active] = target.clip(x[active] + project(step - x[active], eps, self.norm))
        best[active] = x_k[active]
        return best


def _bind(fn: LossFn, y: torch.Tensor) -> Objective:
    """The per-sample objective ``fn(logits, y)`` for fixed labels."""
    return lambda z: fn(z, y)

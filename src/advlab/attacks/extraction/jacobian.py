"""Jacobian-based dataset augmentation (JBDA) for substitute training.

Papernot, McDaniel, Goodfellow, Jha, Celik & Swami, "Practical Black-Box Attacks against
Machine Learning", AsiaCCS 2017 (arXiv:1602.02697), Algorithm 1.

Start from a small seed set ``S_0`` labelled by the victim; for ``rounds`` substitute epochs:
train the substitute on the labelled set, then grow it with
``x + lambda_r * sign(d F_sub[y(x)](x) / dx)`` for every ``x`` (``y(x)`` the victim's label),
clipped to the bounds, and label the new points by the victim. ``lambda_r`` alternates sign
every ``tau`` rounds (periodic step size). With ``reservoir`` set, each round augments a
random subset of that size only (the paper's reservoir sampling), keeping queries linear in
the number of rounds instead of exponential.

Example:
    >>> res = JacobianAugmentation(rounds=5).extract(target, x_seed, x_eval=x_test)
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from advlab.access import Access
from advlab.attacks.extraction.base import Evaluator, Stolen
from advlab.attacks.extraction.knockoff import SurrogateAttack
from advlab.errors import ConfigError
from advlab.registry import register_attack
from advlab.targets.base import Target
from advlab.vocab import renamed_params

log = logging.getLogger(__name__)


@register_attack
class JacobianAugmentation(SurrogateAttack):
    """Papernot et al. 2017 substitute training with Jacobian-based augmentation.

    Args:
        query_budget: total victim queries (seed labels included); stops when reached.
        rounds: substitute training epochs (augmentation rounds).
        step_size: the augmentation step ``lambda`` (in input units).
        tau: the step's sign flips every ``tau`` rounds.
        reservoir: augment at most this many points per round (``None`` = all).
        arch / epochs / lr / batch_size / use_scores / checkpoints / seed: as in Knockoff.
    """

    name = "jacobian_augmentation"
    requires = Access.LABELS
    paper = "Papernot et al. 2017, AsiaCCS, arXiv:1602.02697"
    summary = "Grow a seed set along the substitute's Jacobian sign; train on victim labels."
    link = "arXiv:1602.02697"
    flags = frozenset({"iterative", "needs_data", "query_based", "randomized"})

    fast_params = {"query_budget": 400, "rounds": 3, "arch": "mlp", "epochs": 5}

    @renamed_params(queries="query_budget", step="step_size")
    def __init__(
        self,
        *,
        query_budget: int = 2000,
        rounds: int = 6,
        step_size: float = 0.1,
        tau: int = 3,
        reservoir: int | None = None,
        arch: str | dict[str, Any] = "auto",
        epochs: int = 40,
        lr: float = 1e-3,
        batch_size: int = 64,
        use_scores: bool = False,
        checkpoints: tuple[int, ...] | list[int] | None = None,
        seed: int | None = 0,
    ) -> None:
        self.query_budget = query_budget
        self.rounds = rounds
        self.step_size = step_size
        self.tau = tau
        self.reservoir = reservoir
        self.arch = arch
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.use_scores = use_scores
        self.checkpoints = checkpoints
        self.seed = seed

    def _validate(self) -> None:
        super()._validate()
        self._positive(step_size=self.step_size)
        if not isinstance(self.rounds, int) or self.rounds < 1:
            raise ConfigError("jacobian_augmentation: rounds must be a positive integer")
        if not isinstance(self.tau, int) or self.tau < 1:
            raise ConfigError("jacobian_augmentation: tau must be a positive integer")
        if self.reservoir is not None and (
            not isinstance(self.reservoir, int) or self.reservoir < 1
        ):
            raise ConfigError("jacobian_augmentation: reservoir must be a positive integer or None")

    def _extract(
        self,
        target: Target,
        x: torch.Tensor | None,
        *,
        generator: torch.Generator,
        evaluate: Evaluator,
    ) -> Stolen:
        assert x is not None
        g = torch.Generator().manual_seed(int(self.seed or 0))
        budget = self._budget(target, self.query_budget)
        xs = x[:budget]
        ys = self._answers(target, xs)
        hard = ys if not ys.is_floating_point() else ys.argmax(1)
        model = self._train(target, xs, ys)
        rounds_done = 0
        for r in range(self.rounds - 1):
            left = budget - len(xs)
            if left <= 0:
                break
            lam = self.step_size * (-1.0 if (r // self.tau) % 2 else 1.0)
            pick = torch.randperm(len(xs), generator=g).to(xs.device)
            if self.reservoir is not None:
                pick = pick[: self.reservoir]
            pick = pick[:left]
            base = xs[pick].float().detach().requires_grad_(True)
            with torch.enable_grad():
                out = model(base)
                sel = out.gather(1, hard[pick][:, None]).sum()
                (grad,) = torch.autograd.grad(sel, base)
            new = target.clip(base.detach() + lam * grad.sign()).to(xs.dtype)
            y_new = self._answers(target, new)
            xs = torch.cat([xs, new])
            ys = torch.cat([ys, y_new])
            hard = ys if not ys.is_floating_point() else ys.argmax(1)
            model = self._train(target, xs, ys)
            rounds_done = r + 1
        return self._finish(target, xs, ys, evaluate, extra={"rounds": rounds_done + 1})

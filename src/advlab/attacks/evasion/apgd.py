"""Auto-PGD (APGD) and its targeted variant APGD-T.

Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
parameter-free attacks", ICML 2020 (https://arxiv.org/abs/2003.01690).

A step-size-free PGD: the step starts at ``2 * eps`` and is halved at checkpoints
(``p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)`` of the budget)
when fewer than 75% of the steps since the last checkpoint increased the loss, or when the
step was not reduced at the last checkpoint and the best loss did not improve; after a
reduction the iterate restarts from the best point. Momentum 0.75. Losses: CE or the
difference-of-logits ratio (DLR). APGD-T runs the targeted DLR loss against each of the
``n_target_classes`` most likely wrong classes in turn, on the points still robust.

The loop (active set, per-sample early stop, projection, counting) is
:class:`~advlab.attacks.evasion.iterative.GradientIterativeAttack`'s: a point leaves the
batch at its first adversarial iterate (which is kept), so each step costs one forward + one
backward for the still-robust points only; a point never broken returns its highest-loss
iterate. APGD supplies the step rule: per-point step sizes, momentum, and the checkpoints.
"""

from __future__ import annotations

import functools
import math
from typing import Any, ClassVar

import torch

from advlab.access import Access
from advlab.attacks.evasion.iterative import Goal, GradientIterativeAttack, StepState
from advlab.errors import ConfigError
from advlab.losses import dlr_targeted, get_loss
from advlab.registry import register_attack
from advlab.targets.base import Target
from advlab.vocab import DEFAULT_EPS

_TAGS = frozenset({"threat:evasion", "access:gradients", "norm:linf", "norm:l2", "modality:any"})


@functools.lru_cache(maxsize=64)
def checkpoints(steps: int) -> tuple[int, ...]:
    """Iterations at which APGD checks its step size (the paper's p_j schedule)."""
    p = [0.0, 0.22]
    while p[-1] < 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    out = sorted({math.ceil(q * steps) for q in p[1:] if q < 1})
    return tuple(c for c in out if 0 < c < steps)


def _objective(
    loss: str, z: torch.Tensor, y: torch.Tensor | None, t: torch.Tensor | None
) -> torch.Tensor:
    if t is None:
        assert y is not None
        return get_loss(loss)(z, y)
    if loss == "dlr":
        return dlr_targeted(z, t, y)
    return get_loss(loss, targeted=True)(z, t)


def _rows(v: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor | None:
    return None if v is None else v[idx]


def apgd_goal(loss: str, y: torch.Tensor | None, t: torch.Tensor | None) -> Goal:
    """The objective is untargeted when ``t`` is None, else targeted at ``t``. Success is
    ``label != y`` when ``y`` is given (APGD-T uses a target class only as a means to
    misclassify), else ``label == t``."""

    def objective(z: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return _objective(loss, z, _rows(y, idx), _rows(t, idx))

    def success(z: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        pred = z.argmax(1)
        if y is not None:  # untargeted, or AutoAttack's APGD-T (target class as a means)
            return pred != y[idx]
        assert t is not None
        return pred == t[idx]

    return Goal(objective, success)


@register_attack
class APGD(GradientIterativeAttack):
    """APGD with the CE or DLR loss (``loss="ce"|"dlr"``), L-inf or L2; targeted with ``y``
    the target classes (DLR-targeted then needs >= 4 classes).

    Args:
        eps, norm: the threat model.
        steps: iterations (AutoAttack uses 100).
        restarts: random restarts on the points not yet broken.
        loss: ``ce`` | ``dlr``.
    """

    name = "apgd"
    requires = Access.GRADIENTS
    norms = ("linf", "l2")
    paper = "Croce & Hein 2020, arXiv:2003.01690"
    summary = "Auto-PGD: PGD with an adaptive step size and momentum (CE or DLR loss)."
    link = "arXiv:2003.01690"
    tags = _TAGS
    flags = frozenset({"iterative", "randomized", "targeted"})
    suite_params = {"gradients": {"loss": "ce", "steps": 50}}

    evaluate_final = True
    needs_loss = True
    random_start = True
    rho: ClassVar[float] = 0.75
    """Fraction of steps since the last checkpoint that must increase the loss."""
    momentum: ClassVar[float] = 0.75

    fast_params: ClassVar[dict[str, Any]] = {"steps": 5}

    def __init__(
        self,
        *,
        norm: str = "linf",
        eps: float | None = DEFAULT_EPS,
        steps: int = 100,
        restarts: int = 1,
        loss: str = "ce",
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.norm = norm
        self.eps = eps
        self.steps = steps
        self.restarts = restarts
        self.loss = loss
        self.seed = seed
        self.batch_size = batch_size

    def _validate(self) -> None:
        super()._validate()
        if self.loss not in ("ce", "dlr"):
            raise ConfigError(f"{self.name}: loss must be 'ce' or 'dlr', got {self.loss!r}")

    # ------------------------------------------------------------------ step rule
    def _step_size(self, eps: float) -> float:
        return 2.0 * eps  # the initial step; each point halves its own at checkpoints

    def _memoryless(self) -> bool:
        return False  # momentum and per-point step sizes

    def _init_state(
        self, x: torch.Tensor, x_start: torch.Tensor, eps: float
    ) -> dict[str, torch.Tensor]:
        n, dev = len(x), x.device
        return {
            "step": torch.full((n,), 2.0 * eps, device=dev),
            "x_prev": x_start.clone(),
            "x_best": x_start.clone(),
            "grad_best": torch.zeros_like(x_start),
            "loss_best": torch.zeros(n, device=dev),
            "loss_prev": torch.zeros(n, device=dev),
            "loss_best_last": torch.zeros(n, device=dev),
            "increases": torch.zeros(n, device=dev),
            "reduced_last": torch.ones(n, dtype=torch.bool, device=dev),
        }

    def _observe(
        self,
        x: torch.Tensor,
        grad: torch.Tensor,
        loss: torch.Tensor | None,
        state: StepState,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        assert loss is not None
        r, a, t = state.rows, state.idx, state.t
        # a float64 target (e.g. scikit-learn) answers in float64; the state keeps x's dtype
        loss = loss.to(r["loss_best"].dtype)
        grad = grad.to(r["grad_best"].dtype)
        if t == 0:
            r["loss_best"][a], r["grad_best"][a] = loss, grad
            r["loss_prev"][a], r["loss_best_last"][a] = loss, loss
            return x, grad
        r["increases"][a] += (loss > r["loss_prev"][a]).float()
        r["loss_prev"][a] = loss
        better = loss > r["loss_best"][a]
        bi = a[better]
        r["loss_best"][bi], r["x_best"][bi], r["grad_best"][bi] = (
            loss[better],
            x[better],
            grad[better],
        )
        checks = checkpoints(self.steps)
        if t not in checks:
            return x, grad
        i = checks.index(t)
        span = t - (checks[i - 1] if i else 0)
        reduce = (r["increases"][a] < self.rho * span) | (
            (~r["reduced_last"][a]) & (r["loss_best_last"][a] >= r["loss_best"][a])
        )
        r["reduced_last"][a] = reduce
        r["loss_best_last"][a] = r["loss_best"][a]
        r["step"][a[reduce]] /= 2.0
        r["increases"][a] = 0
        view = (-1, *([1] * (x.dim() - 1)))
        back = reduce.reshape(view)
        return torch.where(back, r["x_best"][a], x), torch.where(back, r["grad_best"][a], grad)

    def _step(self, x: torch.Tensor, direction: torch.Tensor, state: StepState) -> torch.Tensor:
        r, a = state.rows, state.idx
        view = (-1, *([1] * (x.dim() - 1)))
        z = state.project(x + r["step"][a].reshape(view) * direction)
        mom = self.momentum if state.t > 0 else 1.0
        out = x + mom * (z - x) + (1 - mom) * (x - r["x_prev"][a])
        r["x_prev"][a] = x
        return out

    def _finish(self, x_last: torch.Tensor, rows: dict[str, torch.Tensor]) -> torch.Tensor:
        return rows["x_best"]  # never broken: the highest-loss iterate

    def _goal(self, y: torch.Tensor, targeted: bool) -> Goal:
        return apgd_goal(self.loss, None if targeted else y, y if targeted else None)


@register_attack
class APGDT(APGD):
    """APGD-T: targeted DLR APGD against the ``n_target_classes`` most likely wrong classes,
    each on the points still robust. Untargeted in effect (success = misclassified)."""

    name = "apgd_t"
    aliases: ClassVar[tuple[str, ...]] = ("apgd-t",)
    summary = "Targeted APGD with the DLR loss over the top wrong classes (AutoAttack's APGD-T)."
    flags = frozenset({"iterative", "randomized"})
    suite_params = {"gradients": {"steps": 50, "n_target_classes": 3}}

    loss = "dlr"

    fast_params: ClassVar[dict[str, Any]] = {"steps": 5, "n_target_classes": 3}

    def __init__(
        self,
        *,
        norm: str = "linf",
        eps: float | None = DEFAULT_EPS,
        steps: int = 100,
        n_target_classes: int = 9,
        restarts: int = 1,
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.norm = norm
        self.eps = eps
        self.steps = steps
        self.n_target_classes = n_target_classes
        self.restarts = restarts
        self.seed = seed
        self.batch_size = batch_size

    def _validate(self) -> None:
        super()._validate()
        if not isinstance(self.n_target_classes, int) or self.n_target_classes < 1:
            raise ConfigError(f"{self.name}: n_target_classes must be an integer >= 1")

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
        if target.num_classes < 4:
            raise ConfigError(f"{self.name} needs at least 4 classes (targeted DLR loss)")
        order = target.logits(x).argsort(dim=1, descending=True)
        out = x.clone()
        todo = torch.arange(len(x), device=x.device)
        k = min(self.n_target_classes, target.num_classes - 1)
        view = (-1, *([1] * (x.dim() - 1)))
        for rank in range(1, k + 1):
            if len(todo) == 0:
                break
            ys = y[todo]
            tgt = order[todo, rank]
            # when the clean prediction is wrong, rank 0 is a valid wrong class too
            tgt = torch.where(tgt == ys, order[todo, 0], tgt)
            run = self._iterate(
                target, x[todo], apgd_goal("dlr", ys, tgt), eps=eps, generator=generator
            )
            keep = run.adversarial.reshape(view) | (rank == 1)
            out[todo] = torch.where(keep, run.x, out[todo])
            todo = todo[~run.adversarial]
        return out

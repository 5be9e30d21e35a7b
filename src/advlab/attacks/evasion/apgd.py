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

Per-sample early stop: a point leaves the batch at its first adversarial iterate (which is
kept), so each step costs one forward + one backward for the still-robust points only.
"""

from __future__ import annotations

import math

import torch

from advlab.access import Access
from advlab.attacks.evasion.base import EvasionAttack
from advlab.errors import ConfigError
from advlab.losses import dlr_targeted, get_loss
from advlab.norms import project, random_in_ball, steepest
from advlab.registry import register_attack
from advlab.targets.base import Target


def checkpoints(steps: int) -> list[int]:
    """Iterations at which APGD checks its step size (the paper's p_j schedule)."""
    p = [0.0, 0.22]
    while p[-1] < 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    out = sorted({math.ceil(q * steps) for q in p[1:] if q < 1})
    return [c for c in out if 0 < c < steps]


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


def apgd_core(
    target: Target,
    x: torch.Tensor,
    y: torch.Tensor | None,
    *,
    t: torch.Tensor | None = None,
    loss: str = "ce",
    eps: float,
    norm: str,
    steps: int,
    generator: torch.Generator,
    rho: float = 0.75,
    momentum: float = 0.75,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One APGD run: the objective is untargeted when ``t`` is None, else targeted at ``t``.
    Success is ``label != y`` when ``y`` is given (APGD-T uses a target class only as a means
    to misclassify), else ``label == t``.

    Returns (points, adversarial mask): adversarial rows hold their first adversarial
    iterate, the others their highest-loss iterate.
    """
    n = len(x)
    dev = x.device
    view = (-1, *([1] * (x.dim() - 1)))

    def is_adv(z: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        pred = z.argmax(1)
        if y is not None:  # untargeted, or AutoAttack's APGD-T (target class as a means)
            return pred != y[idx]
        assert t is not None
        return pred == t[idx]

    def proj(p: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return target.clip(x[idx] + project(p - x[idx], eps, norm))

    def grad_at(
        p: torch.Tensor, idx: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        yi, ti = _rows(y, idx), _rows(t, idx)
        g, z = target.gradient(p, lambda zz: _objective(loss, zz, yi, ti))
        with torch.no_grad():
            val = _objective(loss, z, yi, ti)
        return g, z, val

    everyone = torch.arange(n, device=dev)
    x_adv = target.clip(x + random_in_ball(x.shape, eps, norm, generator=generator, device=dev))
    grad, logits, cur = grad_at(x_adv, everyone)
    found = is_adv(logits, everyone)
    out = x_adv.clone()
    step = torch.full((n,), 2.0 * eps, device=dev)
    loss_best, x_best, grad_best = cur.clone(), x_adv.clone(), grad.clone()
    x_prev, loss_prev = x_adv.clone(), cur.clone()
    increases = torch.zeros(n, device=dev)
    loss_best_last = loss_best.clone()
    reduced_last = torch.ones(n, dtype=torch.bool, device=dev)
    checks = set(checkpoints(steps))
    last_check = 0
    active = (~found).nonzero().flatten()
    for i in range(steps):
        if len(active) == 0:
            break
        a = active
        xa = x_adv[a]
        z = proj(xa + step[a].reshape(view) * steepest(grad[a], norm), a)
        mom = momentum if i > 0 else 1.0
        new = proj(xa + mom * (z - xa) + (1 - mom) * (xa - x_prev[a]), a)
        x_prev[a] = xa
        x_adv[a] = new
        g, lg, la = grad_at(new, a)
        grad[a] = g
        hit = is_adv(lg, a)
        increases[a] += (la > loss_prev[a]).float()
        loss_prev[a] = la
        better = la > loss_best[a]
        bi = a[better]
        loss_best[bi], x_best[bi], grad_best[bi] = la[better], new[better], g[better]
        if bool(hit.any()):
            found[a[hit]] = True
            out[a[hit]] = new[hit]
        if (i + 1) in checks:
            span = (i + 1) - last_check
            reduce = (increases[a] < rho * span) | (
                (~reduced_last[a]) & (loss_best_last[a] >= loss_best[a])
            )
            reduced_last[a] = reduce
            loss_best_last[a] = loss_best[a]
            ri = a[reduce]
            step[ri] /= 2.0
            x_adv[ri] = x_best[ri]
            grad[ri] = grad_best[ri]
            increases[a] = 0
            last_check = i + 1
        active = a[~hit]
    out[~found] = x_best[~found]
    return out, found


@register_attack
class APGD(EvasionAttack):
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
    flags = frozenset({"iterative", "randomized", "targeted"})
    suite_params = {"gradients": {"loss": "ce", "steps": 50}}

    def __init__(
        self,
        *,
        norm: str = "linf",
        eps: float | None = 8 / 255,
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
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ConfigError(f"{self.name}: steps must be an integer >= 1, got {self.steps!r}")
        if self.loss not in ("ce", "dlr"):
            raise ConfigError(f"{self.name}: loss must be 'ce' or 'dlr', got {self.loss!r}")

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
        out, _ = apgd_core(
            target,
            x,
            None if targeted else y,
            t=y if targeted else None,
            loss=self.loss,
            eps=eps,
            norm=self.norm,
            steps=self.steps,
            generator=generator,
        )
        return out


@register_attack
class APGDT(EvasionAttack):
    """APGD-T: targeted DLR APGD against the ``n_target_classes`` most likely wrong classes,
    each on the points still robust. Untargeted in effect (success = misclassified)."""

    name = "apgd_t"
    aliases = ("apgd-t",)
    requires = Access.GRADIENTS
    norms = ("linf", "l2")
    paper = "Croce & Hein 2020, arXiv:2003.01690"
    summary = "Targeted APGD with the DLR loss over the top wrong classes (AutoAttack's APGD-T)."
    flags = frozenset({"iterative", "randomized"})
    suite_params = {"gradients": {"steps": 50, "n_target_classes": 3}}

    def __init__(
        self,
        *,
        norm: str = "linf",
        eps: float | None = 8 / 255,
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
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ConfigError(f"{self.name}: steps must be an integer >= 1")
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
            raise ConfigError("apgd_t needs at least 4 classes (targeted DLR loss)")
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
            res, found = apgd_core(
                target,
                x[todo],
                ys,
                t=tgt,
                loss="dlr",
                eps=eps,
                norm=self.norm,
                steps=self.steps,
                generator=generator,
            )
            keep = found.reshape(view) | (rank == 1)
            out[todo] = torch.where(keep, res, out[todo])
            todo = todo[~found]
        return out

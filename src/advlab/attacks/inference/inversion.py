"""MIFace: class-representative model inversion.

Fredrikson, Jha & Ristenpart, "Model Inversion Attacks that Exploit Confidence Information
and Basic Countermeasures", CCS 2015 (https://doi.org/10.1145/2810103.2813677), Algorithm 1:
gradient descent on the input to minimise ``c(x) = 1 - p_c(x) + AuxTerm(x)``, stopping after
``steps`` iterations, when the cost has not improved for ``patience`` steps, or once it falls
below ``threshold``. Here the cost is ``-log p_c(x)`` (better-conditioned than ``1 - p_c``),
optionally plus ``tv_weight`` times the total variation (images) and ``l2_weight`` times the
squared distance to the starting point; iterates are clipped to the target's bounds.

The attack is judged by outside evidence, not by the target's own confidence:

- an *independent evaluation classifier* (trained by the evaluator on other data) must
  recognise each reconstruction as its class (``eval_accuracy``);
- each reconstruction's L2 distance to the mean of its class (from data the evaluator holds),
  next to the starting point's distance (``baseline_distance``).

Example:
    >>> res = MIFace(steps=300).run(target, classes=range(10), x_ref=x_test, y_ref=y_test,
    ...                             evaluator=eval_target)
    >>> res.eval_accuracy
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np
import torch

from advlab.access import Access
from advlab.attacks.base import Attack
from advlab.attacks.inference.base import InversionResult
from advlab.errors import ConfigError, InputError
from advlab.registry import register_attack
from advlab.targets.base import Target


def _tv(x: torch.Tensor) -> torch.Tensor:
    if x.dim() < 4:
        return torch.zeros(len(x), device=x.device)
    dh = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).sum(1)
    dw = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).sum(1)
    return dh + dw


def _neg_log_prob(c: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    def objective(z: torch.Tensor) -> torch.Tensor:
        return -torch.log_softmax(z, dim=1).gather(1, c[:, None])[:, 0]

    return objective


@register_attack
class MIFace(Attack):
    name = "miface"
    family: ClassVar[str] = "inference"
    requires: ClassVar[Access] = Access.GRADIENTS
    paper = "Fredrikson et al. 2015, doi:10.1145/2810103.2813677"
    summary = "Reconstruct a class representative by gradient descent on the input."
    link = "doi:10.1145/2810103.2813677"
    flags = frozenset({"iterative", "randomized"})

    expected_failures = {
        "efficacy_floor": "reconstructs class representatives, not membership; the kit has no inversion "
        "task yet (tests/inference/test_inversion_attribute_dp.py covers it)"
    }

    def __init__(
        self,
        *,
        steps: int = 300,
        step_size: float = 0.05,
        patience: int = 50,
        threshold: float = 1e-3,
        tv_weight: float = 0.0,
        l2_weight: float = 0.0,
        init: str = "mid",
        seed: int = 0,
    ) -> None:
        self.steps = steps
        self.step_size = step_size
        self.patience = patience
        self.threshold = threshold
        self.tv_weight = tv_weight
        self.l2_weight = l2_weight
        self.init = init
        self.seed = seed

    def _start(self, target: Target, n: int) -> torch.Tensor:
        shape = (n, *target.input_shape)
        lo = (
            target.lower.expand(shape)
            if target.lower.dim()
            else torch.full(shape, float(target.lower))
        )
        hi = (
            target.upper.expand(shape)
            if target.upper.dim()
            else torch.full(shape, float(target.upper))
        )
        lo = lo.to(target.device)
        hi = hi.to(target.device)
        if not bool(torch.isfinite(lo).all() & torch.isfinite(hi).all()):
            if self.init != "zeros":
                raise ConfigError(
                    "MIFace init 'mid'/'uniform' needs finite bounds; use init='zeros'"
                )
        if self.init == "zeros":
            return torch.zeros(shape, device=target.device)
        if self.init == "mid":
            return (lo + hi) / 2
        if self.init == "uniform":
            g = torch.Generator().manual_seed(self.seed)
            return lo + (hi - lo) * torch.rand(shape, generator=g).to(target.device)
        raise ConfigError(f"init must be 'mid', 'zeros' or 'uniform', got {self.init!r}")

    def reconstruct(
        self, target: Target, classes: Iterable[int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstructions ``(K, *input_shape)`` and the target's confidence in each class."""
        target.require(self.requires, self.name)
        self._positive(steps=self.steps, step_size=self.step_size)
        cls = torch.as_tensor(list(classes), dtype=torch.long, device=target.device)
        if len(cls) == 0 or int(cls.min()) < 0 or int(cls.max()) >= target.num_classes:
            raise InputError(f"classes must be in [0, {target.num_classes}), got {cls.tolist()}")
        x0 = self._start(target, len(cls))
        x = x0.clone()
        best = x.clone()
        best_cost = torch.full((len(cls),), float("inf"), device=x.device, dtype=target.dtype)
        stale = torch.zeros(len(cls), dtype=torch.long, device=x.device)
        active = torch.ones(len(cls), dtype=torch.bool, device=x.device)
        for _ in range(int(self.steps)):
            idx = active.nonzero().flatten()
            if len(idx) == 0:
                break
            xa, ca = x[idx], cls[idx]
            grad, logits = target.gradient(xa, _neg_log_prob(ca))
            cost = -torch.log_softmax(logits, dim=1).gather(1, ca[:, None])[:, 0]
            if self.tv_weight > 0 or self.l2_weight > 0:
                with torch.enable_grad():
                    xr = xa.detach().requires_grad_(True)
                    reg = self.tv_weight * _tv(xr) + self.l2_weight * ((xr - x0[idx]) ** 2).flatten(
                        1
                    ).sum(1)
                    (g_reg,) = torch.autograd.grad(reg.sum(), xr)
                grad = grad + g_reg
                cost = cost + reg.detach()
            cost = cost.to(best_cost.dtype)
            improved = cost < best_cost[idx] - 1e-9
            best[idx] = torch.where(improved.reshape(-1, *([1] * (xa.dim() - 1))), xa, best[idx])
            best_cost[idx] = torch.where(improved, cost, best_cost[idx])
            stale[idx] = torch.where(improved, torch.zeros_like(stale[idx]), stale[idx] + 1)
            x[idx] = target.clip(xa - self.step_size * grad)
            active[idx] = (best_cost[idx] > self.threshold) & (stale[idx] < self.patience)
        with torch.no_grad():
            p = torch.softmax(target.logits(best), dim=1).gather(1, cls[:, None])[:, 0]
        return best.detach(), p

    def run(
        self,
        target: Target,
        classes: Iterable[int] | None = None,
        *,
        x_ref: Any = None,
        y_ref: Any = None,
        evaluator: Target | None = None,
    ) -> InversionResult:
        """Invert ``classes`` (default: all); evaluate with ``evaluator`` and ``(x_ref, y_ref)``.

        ``evaluator`` should be a classifier independent of the target (another model trained
        by the evaluator); ``x_ref, y_ref`` give the class means for the distance figures.
        """
        t0 = time.perf_counter()
        q0, g0 = target.meter.queries, target.meter.gradient_calls
        cls = list(range(target.num_classes)) if classes is None else [int(c) for c in classes]
        rec, conf = self.reconstruct(target, cls)
        eval_acc, eval_pred = None, None
        if evaluator is not None:
            pred = evaluator.labels(evaluator.check_inputs(rec)).cpu().numpy()
            eval_pred = pred
            eval_acc = float((pred == np.asarray(cls)).mean())
        dist, base = None, None
        if x_ref is not None and y_ref is not None:
            xr = np.asarray(x_ref, dtype=np.float64).reshape(len(x_ref), -1)
            yr = np.asarray(y_ref)
            r = rec.cpu().numpy().astype(np.float64).reshape(len(cls), -1)
            x0 = (
                self._start(target, len(cls)).cpu().numpy().astype(np.float64).reshape(len(cls), -1)
            )
            dist, base = np.empty(len(cls)), np.empty(len(cls))
            for i, c in enumerate(cls):
                if not (yr == c).any():
                    raise InputError(f"y_ref has no example of class {c}")
                mu = xr[yr == c].mean(0)
                dist[i] = np.linalg.norm(r[i] - mu)
                base[i] = np.linalg.norm(x0[i] - mu)
        return InversionResult(
            attack=self.name,
            params=self.get_params(),
            seed=self.seed,
            queries=target.meter.queries - q0,
            gradient_calls=target.meter.gradient_calls - g0,
            seconds=time.perf_counter() - t0,
            target=target.describe(),
            reconstructions=rec.cpu().numpy(),
            classes=np.asarray(cls),
            target_confidence=conf.cpu().numpy(),
            eval_accuracy=eval_acc,
            eval_predictions=eval_pred,
            distance_to_class_mean=dist,
            baseline_distance=base,
        )

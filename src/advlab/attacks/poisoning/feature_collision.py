"""Feature collision ("Poison Frogs").

Shafahi, Huang, Najibi, Suciu, Studer, Dumitras & Goldstein, "Poison Frogs! Targeted
Clean-Label Poisoning Attacks on Neural Networks", NeurIPS 2018
(https://arxiv.org/abs/1804.00792). For transfer learning on a frozen feature extractor ``f``:
each poison starts from a base input ``b`` of the attacker's class and solves

    p = argmin_p ||f(p) - f(t)||^2 + beta * ||p - b||^2

by forward-backward splitting (a gradient step on the feature term, then the closed-form
proximal step ``p = (p + lr * beta * b) / (1 + lr * beta)``; a step that raises the feature
loss is undone and its step size halved, per poison), so it looks like ``b`` (and keeps
its label) but sits on the target ``t`` in feature space. A victim retraining the last layer
on the poisoned set then classifies ``t`` as the base class. Optional: an L-inf bound ``eps``
around the base, and "watermarking" (blending ``opacity`` of the target into the base first).

Example:
    >>> FeatureCollision(budget=0.02).poison(x, y, x_target=t, target_class=3, model=net)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from advlab.access import Access
from advlab.attacks.poisoning.base import PoisonedDataset, PoisoningAttack
from advlab.errors import ConfigError, InputError
from advlab.registry import register_attack
from advlab.vocab import renamed_params


def feature_fn(model: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """The feature extractor of ``model``: its ``embed`` method, else the model itself."""
    m = getattr(model, "model", model)
    if hasattr(m, "embed"):
        return m.embed  # type: ignore[no-any-return]
    if isinstance(m, nn.Module) or callable(m):
        return m  # type: ignore[no-any-return]
    raise InputError(
        f"model must be an nn.Module (with .embed) or a callable, got {type(model).__name__}"
    )


@register_attack
class FeatureCollision(PoisoningAttack):
    """Poison Frogs feature-collision poisons.

    Args:
        budget: fraction of the training set poisoned (or a count); bases from ``target_class``.
        beta: weight of the input-space proximity term (scaled by feature dim / input dim,
            as in the paper: ``beta * (d_feat / d_in) ** 2``).
        steps / step_size: forward-backward iterations and step size (deprecated alias
            ``lr``).
        eps: optional L-inf bound around each base (``None``: unbounded).
        opacity: watermark weight of the target blended into the bases first (0: none).
        seed: seeds the choice of base inputs.
    """

    name = "feature_collision"
    requires = Access.GRADIENTS
    paper = "Shafahi et al. 2018, arXiv:1804.00792"
    summary = "Poison Frogs: clean-label poisons colliding with a target in feature space."
    link = "arXiv:1804.00792"
    flags = frozenset({"iterative", "randomized"})

    fast_params = {"steps": 100}
    expected_failures = {
        "efficacy_floor": "Poison Frogs attacks transfer learning (a frozen feature extractor "
        "retrained on top); the kit's victims are retrained from scratch"
    }

    @renamed_params(lr="step_size")
    def __init__(
        self,
        *,
        budget: float = 0.01,
        beta: float = 0.25,
        steps: int = 300,
        step_size: float = 0.01,
        eps: float | None = None,
        opacity: float = 0.0,
        seed: int | None = 0,
    ) -> None:
        self.budget = budget
        self.beta = beta
        self.steps = steps
        self.step_size = step_size
        self.eps = eps
        self.opacity = opacity
        self.seed = seed

    def poison(  # type: ignore[override]
        self,
        x: Any,
        y: Any,
        *,
        x_target: Any,
        target_class: int,
        model: Any,
        bounds: tuple[float, float] = (0.0, 1.0),
    ) -> PoisonedDataset:
        """``model``: the frozen feature extractor (a module with ``embed``, a
        TorchClassifier wrapping one, or a callable returning features)."""
        t0 = time.perf_counter()
        xa, ya = self._check_data(x, y, bounds)
        tc = self._check_class(target_class, ya)
        self._check_eps(self.eps, bounds)
        if not 0 <= float(self.opacity) < 1:
            raise ConfigError(f"{self.name}: opacity must be in [0, 1), got {self.opacity!r}")
        self._positive(step_size=self.step_size, beta=self.beta)
        xt_np = np.asarray(x_target, dtype=np.float32)
        if xt_np.shape == xa.shape[1:]:
            xt_np = xt_np[None]
        if xt_np.shape != (1, *xa.shape[1:]):
            raise InputError(
                f"x_target must be one input of shape {xa.shape[1:]}, got {xt_np.shape}"
            )
        cand = np.flatnonzero(ya == tc)
        k = self._n_poison(len(ya), len(cand), f"class {tc}")
        f = feature_fn(model)
        dev = (
            next(iter(getattr(model, "model", model).parameters())).device
            if isinstance(getattr(model, "model", model), nn.Module)
            else torch.device("cpu")
        )
        xt = torch.as_tensor(xt_np, device=dev)
        with torch.no_grad():
            ft = f(xt).detach()
        # bases: the candidates closest to the target in feature space (easiest to collide)
        xc = torch.as_tensor(xa[cand], device=dev)
        with torch.no_grad():
            d = ((f(xc) - ft) ** 2).flatten(1).sum(1).cpu().numpy()
        idx = np.sort(cand[np.argsort(d, kind="stable")[:k]])
        lo, hi = float(bounds[0]), float(bounds[1])
        b = torch.as_tensor(xa[idx], device=dev)
        b = (1 - self.opacity) * b + self.opacity * xt
        d_in, d_feat = b[0].numel(), ft.numel()
        beta = float(self.beta) * (d_feat / d_in) ** 2
        base = torch.as_tensor(xa[idx], device=dev)

        def feat_loss(z: torch.Tensor) -> torch.Tensor:
            return ((f(z) - ft) ** 2).flatten(1).sum(1)

        p = b.clone()
        lr = torch.full((k, *([1] * (b.dim() - 1))), float(self.step_size), device=dev)
        for _ in range(int(self.steps)):
            p.requires_grad_(True)
            cur = feat_loss(p)
            (g,) = torch.autograd.grad(cur.sum(), p)
            with torch.no_grad():
                q = p - lr * g  # forward (gradient) step on the feature term
                q = (q + lr * beta * b) / (1 + lr * beta)  # backward (proximal) step
                if self.eps is not None:
                    q = torch.max(torch.min(q, base + self.eps), base - self.eps)
                q = q.clamp(lo, hi)
                worse = feat_loss(q) > cur  # backtracking, per poison: halve the step
                shape = (k, *([1] * (b.dim() - 1)))
                lr = torch.where(worse.reshape(shape), lr * 0.5, lr)
                p = torch.where(worse.reshape(shape), p.detach(), q)
        with torch.no_grad():
            dist = float(((f(p) - ft) ** 2).flatten(1).sum(1).sqrt().mean())
        x_out = xa.copy()
        x_out[idx] = p.detach().cpu().numpy()
        return self._result(
            x=x_out,
            y=ya.copy(),
            indices=idx,
            budget=k / len(ya),
            eps=self.eps,
            trigger=None,
            target_class=tc,
            mode="targeted",
            x_target=xt_np,
            bounds=(lo, hi),
            info={"feature_distance": dist, "linf": float(np.abs(x_out[idx] - xa[idx]).max())},
            seconds=time.perf_counter() - t0,
        )

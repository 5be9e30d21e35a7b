"""Witches' Brew: targeted clean-label poisoning by gradient matching.

Geiping, Fowl, Huang, Czaja, Taylor, Moeller & Goldstein, "Witches' Brew: Industrial Scale
Data Poisoning via Gradient Matching", ICLR 2021 (https://arxiv.org/abs/2009.02276).

The attacker wants a victim trained (from scratch) on the poisoned set to classify one target
input ``x_t`` as ``target_class``. It perturbs a ``budget`` fraction of training points of
``target_class`` (labels untouched, ``||delta||_inf <= eps``) so that the training gradient of
the poisons points the same way as the gradient of the adversarial loss on the target::

    min_delta  1 - cos( grad_theta L(x_t, target_class),  grad_theta sum_i L(x_i + delta_i, y_i) )

over the parameters ``theta`` of surrogate models (an ensemble, averaged), optimised with
signed Adam (``step_size`` 0.1, step decay at 3/8, 5/8, 7/8 of the steps), ``restarts`` random restarts
keeping the lowest loss, optional differentiable augmentation (the poisons are crafted through
random shifts so they survive the victim's augmentation), optional retraining of the
surrogates on the current poisons during crafting, and poison selection by gradient norm.

Defaults follow the authors' code: eps 16/255, budget 1%, 250 steps, 8 restarts.

Example:
    >>> brew = WitchesBrew(budget=0.01, eps=16 / 255, ensemble=2)
    >>> pds = brew.poison(ds.x_train, ds.y_train, x_target=ds.x_test[:1], target_class=3)
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from advlab.access import Access
from advlab.attacks.poisoning.augment import augment_batch
from advlab.attacks.poisoning.base import PoisonedDataset, PoisoningAttack
from advlab.attacks.poisoning.victim import train_victim
from advlab.errors import ConfigError, InputError
from advlab.models.arch import default_spec
from advlab.models.train import TrainConfig
from advlab.registry import register_attack
from advlab.utils import resolve_device
from advlab.vocab import renamed_params

log = logging.getLogger(__name__)


def _flat_grad(model: nn.Module, loss: torch.Tensor, *, create_graph: bool = False) -> torch.Tensor:
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, create_graph=create_graph)
    return torch.cat([g.reshape(-1) for g in grads])


def _as_models(surrogate: Any) -> list[nn.Module]:
    if surrogate is None:
        return []
    items = surrogate if isinstance(surrogate, (list, tuple)) else [surrogate]
    out: list[nn.Module] = []
    for s in items:
        m = getattr(s, "model", s)  # a TorchClassifier or a bare module
        if not isinstance(m, nn.Module):
            raise InputError(
                f"surrogate must be an nn.Module or TorchClassifier, got {type(s).__name__}"
            )
        out.append(m)
    return out


@register_attack
class WitchesBrew(PoisoningAttack):
    """Gradient-matching poisons (Witches' Brew).

    Args:
        budget: fraction of the training set poisoned (or a count); the poisons are taken from
            ``target_class`` (``poison_class`` overrides).
        eps: L-inf bound of the perturbations (inside the data bounds' width).
        steps: signed-Adam steps per restart.
        restarts: random restarts; the lowest final matching loss is kept.
        step_size: the signed-Adam step on the poison, in units of eps (0.1 as in the
            paper's code; deprecated alias ``lr``).
        augment: differentiable augmentation while crafting (``None`` | ``"shift"`` | ...).
        ensemble: number of surrogate models (trained here when not given to :meth:`poison`).
        stagger: surrogates trained here stop at staggered epochs (``i / ensemble`` of the
            training run for the ``i``-th), so the poisons match the victim's gradients along
            its whole training trajectory, not only at the end.
        retrain_every: retrain the surrogates on the current poisons every this many steps
            (0: never).
        selection: ``"gradient_norm"`` (largest per-example gradient norm) or ``"random"``.
        spec / train: architecture spec and training config of surrogates trained here
            (default: :func:`advlab.models.default_spec`, ``TrainConfig()``).
        poison_class: the class of the poisoned training points (default: ``target_class``).
        seed: seeds the selection, the restarts and the surrogates.
        device: where crafting runs.
    """

    name = "witches_brew"
    requires = Access.GRADIENTS
    paper = "Geiping et al. 2021, arXiv:2009.02276"
    summary = "Targeted clean-label poisoning by gradient matching (signed Adam, restarts)."
    link = "arXiv:2009.02276"
    flags = frozenset({"iterative", "randomized"})

    fast_params = {"steps": 20, "restarts": 1}
    expected_failures = {
        "efficacy_floor": "gradient matching needs its full steps and restarts and several "
        "victim seeds to succeed; the kit's one fast victim cannot show it "
        "(benchmarks/poisoning.py measures it)"
    }

    @renamed_params(lr="step_size")
    def __init__(
        self,
        *,
        budget: float = 0.01,
        eps: float = 16 / 255,
        steps: int = 250,
        restarts: int = 8,
        step_size: float = 0.1,
        augment: str | None = None,
        ensemble: int = 1,
        stagger: bool = False,
        retrain_every: int = 0,
        selection: str = "gradient_norm",
        spec: dict[str, Any] | None = None,
        train: dict[str, Any] | None = None,
        poison_class: int | None = None,
        seed: int | None = 0,
        device: str = "cpu",
    ) -> None:
        self.budget = budget
        self.eps = eps
        self.steps = steps
        self.restarts = restarts
        self.step_size = step_size
        self.augment = augment
        self.ensemble = ensemble
        self.stagger = stagger
        self.retrain_every = retrain_every
        self.selection = selection
        self.spec = spec
        self.train = train
        self.poison_class = poison_class
        self.seed = seed
        self.device = device

    def _validate(self) -> None:
        for k in ("steps", "restarts", "ensemble"):
            v = getattr(self, k)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"{self.name}: {k} must be an integer >= 1, got {v!r}")
        self._non_negative_int(retrain_every=self.retrain_every)
        self._positive(step_size=self.step_size)
        if self.selection not in ("gradient_norm", "random"):
            raise ConfigError(
                f"{self.name}: selection must be 'gradient_norm' or 'random', got {self.selection!r}"
            )

    # ------------------------------------------------------------------ surrogates
    def _train_surrogates(
        self, x: np.ndarray, y: np.ndarray, k: int, round_: int, dev: torch.device
    ) -> list[nn.Module]:
        spec = self.spec or default_spec(tuple(x.shape[1:]), int(y.max()) + 1)
        cfg = TrainConfig(**(self.train or {}))
        base = 0 if self.seed is None else int(self.seed)
        models = []
        for i in range(k):
            epochs = cfg.epochs
            if self.stagger:
                epochs = max(1, round(cfg.epochs * (i + 1) / k))
            c = TrainConfig(
                **{**cfg.to_dict(), "epochs": epochs, "seed": base * 1000 + 7919 * round_ + i + 1}
            )
            models.append(train_victim(spec, x, y, c, augment=self.augment, device=dev))
        return models

    # ------------------------------------------------------------------ main
    def poison(  # type: ignore[override]
        self,
        x: Any,
        y: Any,
        *,
        x_target: Any,
        target_class: int,
        surrogate: Any = None,
        bounds: tuple[float, float] = (0.0, 1.0),
    ) -> PoisonedDataset:
        """Craft poisons so that victims trained on the result classify ``x_target`` (one
        input or a batch) as ``target_class``. ``surrogate``: trained model(s) (modules or
        TorchClassifiers); when fewer than ``ensemble`` are given the rest are trained here.
        """
        t0 = time.perf_counter()
        self._validate()
        xa, ya = self._check_data(x, y, bounds)
        self._check_eps(self.eps, bounds)
        tc = self._check_class(target_class, ya)
        pc = (
            tc
            if self.poison_class is None
            else self._check_class(self.poison_class, ya, "poison_class")
        )
        xt_np = np.asarray(x_target, dtype=np.float32)
        if xt_np.shape == xa.shape[1:]:
            xt_np = xt_np[None]
        if xt_np.shape[1:] != xa.shape[1:]:
            raise InputError(
                f"x_target must have shape {xa.shape[1:]} or (n, *that), got {xt_np.shape}"
            )
        cand = np.flatnonzero(ya == pc)
        k = self._n_poison(len(xa), len(cand), f"class {pc}")
        dev = resolve_device(self.device)
        gen = torch.Generator().manual_seed(0 if self.seed is None else int(self.seed))
        rng = self._rng()

        models = _as_models(surrogate)
        for m in models:
            m.to(dev).eval()
        if len(models) < self.ensemble:
            models += self._train_surrogates(xa, ya, self.ensemble - len(models), 0, dev)
        x_dev = torch.as_tensor(xa, device=dev)
        xt = torch.as_tensor(xt_np, device=dev)
        yt = torch.full((len(xt),), tc, dtype=torch.long, device=dev)

        # poison selection
        if self.selection == "random":
            idx = np.sort(rng.choice(cand, size=k, replace=False))
        else:
            norms = torch.zeros(len(cand))
            for m in models:
                for j, i in enumerate(cand):
                    g = _flat_grad(
                        m, F.cross_entropy(m(x_dev[i : i + 1]), torch.tensor([pc], device=dev))
                    )
                    norms[j] += float(g.norm())
            idx = np.sort(cand[np.argsort(-norms.numpy(), kind="stable")[:k]])
        xp = x_dev[torch.as_tensor(idx, device=dev)]
        yp = torch.full((k,), pc, dtype=torch.long, device=dev)
        lo, hi = float(bounds[0]), float(bounds[1])
        eps = float(self.eps)

        def target_grads(ms: list[nn.Module]) -> list[torch.Tensor]:
            return [_flat_grad(m, F.cross_entropy(m(xt), yt)).detach() for m in ms]

        tgrads = target_grads(models)
        best_loss, best_delta = float("inf"), torch.zeros_like(xp)
        milestones = [int(self.steps * f) for f in (3 / 8, 5 / 8, 7 / 8)]
        for r in range(self.restarts):
            # delta = eps * u with u in [-1, 1]; start uniformly in the ball
            u = (torch.rand(xp.shape, generator=gen).to(dev) * 2 - 1).requires_grad_(True)
            opt = torch.optim.Adam([u], lr=self.step_size)
            sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
            ms, tg = models, tgrads
            loss_val = float("inf")
            for step in range(self.steps):
                if self.retrain_every and step and step % self.retrain_every == 0:
                    xcur = xa.copy()
                    xcur[idx] = torch.clamp(xp + eps * u.detach(), lo, hi).cpu().numpy()
                    ms = self._train_surrogates(
                        xcur, ya, self.ensemble, 1 + step + r * self.steps, dev
                    )
                    tg = target_grads(ms)
                xin = torch.clamp(xp + eps * u, lo, hi)
                total = torch.zeros((), device=dev)
                for m, g_t in zip(ms, tg):
                    xb = augment_batch(xin, self.augment, generator=gen)
                    g_p = _flat_grad(
                        m, F.cross_entropy(m(xb), yp, reduction="sum"), create_graph=True
                    )
                    total = total + 1 - F.cosine_similarity(g_p, g_t, dim=0)
                loss = total / len(ms)
                opt.zero_grad(set_to_none=True)
                (grad,) = torch.autograd.grad(loss, u)
                u.grad = grad.sign()
                opt.step()
                sched.step()
                with torch.no_grad():
                    u.clamp_(-1, 1)
                    # keep x + delta inside the bounds
                    u.copy_((torch.clamp(xp + eps * u, lo, hi) - xp) / eps)
                loss_val = float(loss.detach())
            final = self._matching_loss(
                models, tgrads, torch.clamp(xp + eps * u.detach(), lo, hi), yp
            )
            log.info(
                "witches_brew restart %d: matching loss %.4f (last step %.4f)", r, final, loss_val
            )
            if final < best_loss:
                best_loss, best_delta = final, (eps * u.detach()).clone()
        x_out = xa.copy()
        x_out[idx] = torch.clamp(xp + best_delta, lo, hi).cpu().numpy()
        linf = float(np.abs(x_out - xa).max())
        if linf > eps + 1e-5:
            raise AssertionError(f"{self.name}: poisons exceed eps ({linf} > {eps})")
        return self._result(
            x=x_out,
            y=ya.copy(),
            indices=idx,
            budget=k / len(xa),
            eps=eps,
            trigger=None,
            target_class=tc,
            mode="targeted",
            x_target=xt_np,
            bounds=(lo, hi),
            info={"matching_loss": best_loss, "poison_class": pc, "linf": linf},
            seconds=time.perf_counter() - t0,
        )

    @staticmethod
    def _matching_loss(
        models: list[nn.Module], tgrads: list[torch.Tensor], xp: torch.Tensor, yp: torch.Tensor
    ) -> float:
        total = 0.0
        for m, g_t in zip(models, tgrads):
            g_p = _flat_grad(m, F.cross_entropy(m(xp), yp, reduction="sum"))
            total += 1 - float(F.cosine_similarity(g_p, g_t, dim=0))
        return total / len(models)

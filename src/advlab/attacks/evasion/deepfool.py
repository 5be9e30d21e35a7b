"""DeepFool.

Moosavi-Dezfooli, Fawzi & Frossard, "DeepFool: a simple and accurate method to fool deep
neural networks", CVPR 2016 (https://arxiv.org/abs/1511.04599). Iteratively linearises the
classifier and steps to the nearest linearised decision boundary among the
``candidates`` most likely classes, with an ``overshoot``. L2 (and L-inf via the dual norm).
A minimum-norm attack; untargeted only. Cost per iteration: one forward + one backward
per candidate class, for the points not yet misclassified.
"""

from __future__ import annotations

import torch

from advlab.access import Access
from advlab.attacks.evasion.base import EvasionAttack
from advlab.errors import ConfigError
from advlab.norms import lp_norm
from advlab.registry import register_attack
from advlab.targets.base import Objective, Target


@register_attack
class DeepFool(EvasionAttack):
    """DeepFool (L2 or L-inf).

    Args:
        steps: maximum iterations.
        overshoot: relative overshoot past the boundary (0.02 in the paper).
        candidates: number of most likely classes considered.
    """

    name = "deepfool"
    requires = Access.GRADIENTS
    norms = ("l2", "linf")
    paper = "Moosavi-Dezfooli et al. 2016, arXiv:1511.04599"
    summary = "DeepFool: steps to the nearest linearised decision boundary (minimum norm)."
    link = "arXiv:1511.04599"
    flags = frozenset({"iterative", "minimal_norm"})

    def __init__(
        self,
        *,
        norm: str = "l2",
        eps: float | None = None,
        steps: int = 50,
        overshoot: float = 0.02,
        candidates: int = 10,
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.norm = norm
        self.eps = eps
        self.steps = steps
        self.overshoot = overshoot
        self.candidates = candidates
        self.seed = seed
        self.batch_size = batch_size

    def _validate(self) -> None:
        super()._validate()
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ConfigError("deepfool: steps must be an integer >= 1")
        if not isinstance(self.candidates, int) or self.candidates < 2:
            raise ConfigError("deepfool: candidates must be an integer >= 2")
        if self.overshoot < 0:
            raise ConfigError("deepfool: overshoot must be >= 0")

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
        n = len(x)
        view = (-1, *([1] * (x.dim() - 1)))
        k = min(self.candidates, target.num_classes)
        r_tot = torch.zeros_like(x)
        out = x.clone()
        active = torch.arange(n, device=x.device)
        cand = target.logits(x).argsort(1, descending=True)[:, :k]
        for _ in range(self.steps):
            if len(active) == 0:
                break
            xa = target.clip(x[active] + (1 + self.overshoot) * r_tot[active])
            ya = y[active]
            g_true, logits = target.gradient(xa, _logit_of(ya))
            still = logits.argmax(1) == ya
            out[active[~still]] = xa[~still]
            keep = still.nonzero().flatten()
            if len(keep) == 0:
                break
            active, xa, ya, g_true, logits = (
                active[keep],
                xa[keep],
                ya[keep],
                g_true[keep],
                logits[keep],
            )
            best_ratio = torch.full((len(active),), float("inf"), device=x.device)
            best_step = torch.zeros_like(xa)
            for j in range(k):
                cj = cand[active, j]
                valid = cj != ya
                if not bool(valid.any()):
                    continue
                g_j, _ = target.gradient(xa, _logit_of(cj))
                w = g_j - g_true
                f = (logits.gather(1, cj[:, None]) - logits.gather(1, ya[:, None])).squeeze(1)
                dual = "l1" if self.norm == "linf" else "l2"
                wn = lp_norm(w, dual).clamp_min(1e-12)
                ratio = torch.where(valid, f.abs() / wn, torch.full_like(wn, float("inf")))
                better = ratio < best_ratio
                if self.norm == "linf":
                    step = (ratio + 1e-4).reshape(view) * w.sign()
                else:
                    step = ((ratio + 1e-4) / wn).reshape(view) * w
                best_ratio = torch.where(better, ratio, best_ratio)
                best_step = torch.where(better.reshape(view), step, best_step)
            r_tot[active] = r_tot[active] + best_step
        # points still correct after all steps: return the last iterate (the base re-checks)
        if len(active):
            out[active] = target.clip(x[active] + (1 + self.overshoot) * r_tot[active])
        return out


def _logit_of(cls: torch.Tensor) -> Objective:
    """Objective: the logit of class ``cls[i]`` for each row."""
    return lambda z: z.gather(1, cls[:, None]).squeeze(1)

"""Carlini & Wagner L2 attack.

Carlini & Wagner, "Towards Evaluating the Robustness of Neural Networks", IEEE S&P 2017
(https://arxiv.org/abs/1608.04644). Minimises ``||delta||_2^2 + c * f(x + delta)`` with
``f = max(z_y - max_{j != y} z_j, -kappa)`` (untargeted) in tanh space (so the box
constraint holds by construction), with Adam, and a binary search over ``c`` per point.
A minimum-norm attack: with ``eps=None`` it returns the smallest adversarial it found;
with ``eps`` set, breaks beyond ``eps`` are projected back and re-checked by the base class.
Cost: ``steps * binary_search_steps`` forward+backward passes per point.
"""

from __future__ import annotations

import torch

from advlab.access import Access
from advlab.attacks.evasion.base import EvasionAttack
from advlab.errors import ConfigError
from advlab.losses import _true_and_other
from advlab.registry import register_attack
from advlab.targets.base import Objective, Target
from advlab.vocab import renamed_params


@register_attack
class CarliniWagnerL2(EvasionAttack):
    """C&W L2 with binary search over the trade-off constant.

    Args:
        confidence: margin ``kappa`` required between the adversarial and the next class.
        steps: Adam iterations per binary-search step.
        binary_search_steps: updates of ``c`` per point.
        initial_const: starting ``c``.
        step_size: Adam step size on the tanh-space variable (the attack's own step;
            deprecated alias ``lr``).
    """

    name = "cw"
    requires = Access.GRADIENTS
    norms = ("l2",)
    paper = "Carlini & Wagner 2017, arXiv:1608.04644"
    summary = "C&W L2: minimum-norm optimisation attack in tanh space with a binary search on c."
    link = "arXiv:1608.04644"
    flags = frozenset({"iterative", "minimal_norm", "targeted"})

    fast_params = {"steps": 20, "binary_search_steps": 2}

    @renamed_params(lr="step_size")
    def __init__(
        self,
        *,
        norm: str = "l2",
        eps: float | None = None,
        confidence: float = 0.0,
        steps: int = 100,
        binary_search_steps: int = 6,
        initial_const: float = 0.1,
        step_size: float = 0.05,
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.norm = norm
        self.eps = eps
        self.confidence = confidence
        self.steps = steps
        self.binary_search_steps = binary_search_steps
        self.initial_const = initial_const
        self.step_size = step_size
        self.seed = seed
        self.batch_size = batch_size

    def _validate(self) -> None:
        super()._validate()
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ConfigError("cw: steps must be an integer >= 1")
        if not isinstance(self.binary_search_steps, int) or self.binary_search_steps < 1:
            raise ConfigError("cw: binary_search_steps must be an integer >= 1")
        self._positive(initial_const=self.initial_const, step_size=self.step_size)

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
        lo, hi = target.lower.expand_as(x[0]), target.upper.expand_as(x[0])
        if not (bool(torch.isfinite(lo).all()) and bool(torch.isfinite(hi).all())):
            raise ConfigError("cw needs finite input bounds (it optimises in tanh space)")
        n = len(x)
        span = (hi - lo).clamp_min(1e-12)
        # tanh-space variable of the clean input (slightly shrunk to avoid atanh(+-1))
        w0 = torch.atanh(((x - lo) / span * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6))
        const = torch.full((n,), float(self.initial_const), device=x.device)
        lower_c = torch.zeros(n, device=x.device)
        upper_c = torch.full((n,), float("inf"), device=x.device)
        best = x.clone()
        best_l2 = torch.full((n,), float("inf"), device=x.device)
        kappa = float(self.confidence)

        def f(z: torch.Tensor) -> torch.Tensor:
            true, other = _true_and_other(z, y)
            gap = other - true if targeted else true - other  # > 0 means not yet adversarial
            return torch.clamp(gap + kappa, min=0.0)

        for _ in range(self.binary_search_steps):
            w = w0.clone()
            m = torch.zeros_like(w)
            v = torch.zeros_like(w)
            succeeded = torch.zeros(n, dtype=torch.bool, device=x.device)
            for k in range(1, self.steps + 1):
                th = torch.tanh(w)
                xa = lo + span * (th + 1) / 2
                grad_f, logits = target.gradient(xa, _scaled(f, const))
                delta = xa - x
                g_x = 2 * delta + grad_f
                g_w = g_x * span / 2 * (1 - th * th)
                m = 0.9 * m + 0.1 * g_w
                v = 0.999 * v + 0.001 * g_w * g_w
                w = w - self.step_size * (m / (1 - 0.9**k)) / ((v / (1 - 0.999**k)).sqrt() + 1e-8)
                pred = logits.argmax(1)
                adv = pred == y if targeted else pred != y
                l2 = delta.reshape(n, -1).norm(dim=1)
                improve = adv & (l2 < best_l2)
                best_l2 = torch.where(improve, l2, best_l2)
                best[improve] = xa[improve]
                succeeded |= adv
            upper_c = torch.where(succeeded, torch.minimum(upper_c, const), upper_c)
            lower_c = torch.where(succeeded, lower_c, torch.maximum(lower_c, const))
            const = torch.where(torch.isfinite(upper_c), (lower_c + upper_c) / 2, const * 10)
        return best


def _scaled(f: Objective, c: torch.Tensor) -> Objective:
    return lambda z: c * f(z)

"""Momentum iterative FGSM (MI-FGSM).

Dong, Liao, Pang, Su, Zhu, Hu & Li, "Boosting Adversarial Attacks with Momentum", CVPR 2018
(https://arxiv.org/abs/1710.06081). Iterative FGSM whose step follows an accumulated,
normalised gradient: ``g_{t+1} = decay * g_t + grad_t / ||grad_t||_1`` and
``x_{t+1} = proj(x_t + step_size * sign(g_{t+1}))`` (L-inf; the L2 variant steps along
``g_{t+1} / ||g_{t+1}||_2``). The paper uses ``decay = 1`` and ``step_size = eps / steps``
(10 steps), no random start. The gradient is normalised by its mean absolute value, as in
the authors' code and torchattacks: a constant multiple of the L1 norm, so the directions
are the same. With ``decay = 0`` it is iterative FGSM (PGD without random start).

A short subclass of :class:`~advlab.attacks.evasion.iterative.GradientIterativeAttack`
(active set, early stop, projection, restarts and counting are the base's); the momentum is
per-point state. The exact cycle check applies only with ``decay = 0`` (with momentum an
iterate repeating does not mean the sequence does).

Example:
    >>> MIFGSM(eps=0.1, steps=10).run(target, x, y).robust_accuracy
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from advlab.access import Access
from advlab.attacks.evasion.iterative import GradientIterativeAttack, StepState
from advlab.errors import ConfigError
from advlab.losses import get_loss
from advlab.norms import steepest
from advlab.registry import register_attack
from advlab.vocab import DEFAULT_EPS


def normalised(grad: torch.Tensor) -> torch.Tensor:
    """``grad`` divided by its per-sample mean absolute value (zero gradients stay zero)."""
    scale = grad.abs().flatten(1).mean(1).clamp_min(1e-12)
    return grad / scale.reshape(-1, *([1] * (grad.dim() - 1)))


@register_attack
class MIFGSM(GradientIterativeAttack):
    """MI-FGSM: iterative FGSM with momentum on the normalised gradient.

    Args:
        norm: ``linf`` | ``l2``.
        eps: radius of the perturbation ball.
        steps: iterations per restart (the paper uses 10).
        step_size: step length; default ``eps / steps``.
        decay: momentum decay factor ``mu`` (the paper's 1.0; 0 gives iterative FGSM).
        restarts: runs on the points not yet broken (identical without random start, so
            only useful against randomized targets).
        loss: ``ce`` | ``margin`` | ``dlr``.
    """

    name = "mifgsm"
    requires = Access.GRADIENTS
    norms = ("linf", "l2")
    paper = "Dong et al. 2018, arXiv:1710.06081"
    summary = "Momentum iterative FGSM: sign steps along an accumulated normalised gradient."
    link = "arXiv:1710.06081"
    tags = frozenset({"threat:evasion", "access:gradients", "norm:linf", "norm:l2", "modality:any"})
    flags = frozenset({"iterative", "targeted"})

    fast_params: ClassVar[dict[str, Any]] = {"steps": 5}

    def __init__(
        self,
        *,
        norm: str = "linf",
        eps: float | None = DEFAULT_EPS,
        steps: int = 10,
        step_size: float | None = None,
        decay: float = 1.0,
        restarts: int = 1,
        loss: str = "ce",
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.norm = norm
        self.eps = eps
        self.steps = steps
        self.step_size = step_size
        self.decay = decay
        self.restarts = restarts
        self.loss = loss
        self.seed = seed
        self.batch_size = batch_size

    def _validate(self) -> None:
        super()._validate()
        if isinstance(self.decay, bool) or not float(self.decay) >= 0:
            raise ConfigError(f"{self.name}: decay must be >= 0, got {self.decay!r}")
        get_loss(self.loss)

    def _step_size(self, eps: float) -> float:
        return self.step_size if self.step_size is not None else eps / self.steps

    def _memoryless(self) -> bool:
        return self.decay == 0

    def _init_state(
        self, x: torch.Tensor, x_start: torch.Tensor, eps: float
    ) -> dict[str, torch.Tensor]:
        return {"momentum": torch.zeros_like(x)}

    def _direction(self, grad: torch.Tensor, state: StepState) -> torch.Tensor:
        m = state.rows["momentum"]
        g = self.decay * m[state.idx] + normalised(grad)
        m[state.idx] = g
        return steepest(g, self.norm)

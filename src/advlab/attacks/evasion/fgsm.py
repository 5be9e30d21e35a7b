"""FGSM / FGM: one gradient step.

Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples", ICLR 2015
(https://arxiv.org/abs/1412.6572). L-inf: ``x + eps * sign(grad)``; L2/L1: the step of norm
``eps`` along the steepest-ascent direction ("FGM", Miyato et al. 2016).
Cost: one forward + one backward per point.

Example:
    >>> FGSM(eps=0.1).run(target, x, y).robust_accuracy
"""

from __future__ import annotations

import torch

from advlab.access import Access
from advlab.attacks.evasion.base import EvasionAttack
from advlab.losses import get_loss
from advlab.norms import steepest
from advlab.registry import register_attack
from advlab.targets.base import Target


@register_attack
class FGSM(EvasionAttack):
    name = "fgsm"
    requires = Access.GRADIENTS
    norms = ("linf", "l2", "l1")
    paper = "Goodfellow et al. 2015, arXiv:1412.6572"
    summary = "Fast gradient sign method: one signed-gradient step of size eps."
    flags = frozenset({"targeted"})
    suite_params = {"gradients": {}}

    def __init__(
        self,
        *,
        norm: str = "linf",
        eps: float | None = 8 / 255,
        loss: str = "ce",
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.norm = norm
        self.eps = eps
        self.loss = loss
        self.seed = seed
        self.batch_size = batch_size

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
        grad, _ = target.gradient(x, lambda z: fn(z, y))
        return x + eps * steepest(grad, self.norm)

"""FGSM / FGM: one gradient step.

Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples", ICLR 2015
(https://arxiv.org/abs/1412.6572). L-inf: ``x + eps * sign(grad)``; L2/L1: the step of norm
``eps`` along the steepest-ascent direction ("FGM", Miyato et al. 2016).
Cost: one forward + one backward per point. FGSM is the one-step case of
:class:`~advlab.attacks.evasion.iterative.GradientIterativeAttack` (step size ``eps``, no
random start).

Example:
    >>> FGSM(eps=0.1).run(target, x, y).robust_accuracy
"""

from __future__ import annotations

from typing import Any, ClassVar

from advlab.access import Access
from advlab.attacks.evasion.iterative import GradientIterativeAttack
from advlab.registry import register_attack
from advlab.vocab import DEFAULT_EPS


@register_attack
class FGSM(GradientIterativeAttack):
    """One steepest-ascent step of length ``eps`` (sign step for L-inf).

    Args:
        norm: ``linf`` | ``l2`` | ``l1``.
        eps: step length and radius of the perturbation ball.
        loss: ``ce`` | ``margin`` | ``dlr``.
    """

    name = "fgsm"
    requires = Access.GRADIENTS
    norms = ("linf", "l2", "l1")
    paper = "Goodfellow et al. 2015, arXiv:1412.6572"
    summary = "Fast gradient sign method: one signed-gradient step of size eps."
    link = "arXiv:1412.6572"
    tags = frozenset(
        {"threat:evasion", "access:gradients", "norm:linf", "norm:l2", "norm:l1", "modality:any"}
    )
    flags = frozenset({"targeted"})
    suite_params = {"gradients": {}}

    steps = 1

    fast_params: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        *,
        norm: str = "linf",
        eps: float | None = DEFAULT_EPS,
        loss: str = "ce",
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.norm = norm
        self.eps = eps
        self.loss = loss
        self.seed = seed
        self.batch_size = batch_size

    def _step_size(self, eps: float) -> float:
        return eps

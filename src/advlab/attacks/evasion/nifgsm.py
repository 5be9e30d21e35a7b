"""Nesterov iterative FGSM (NI-FGSM).

Lin, Song, He, Wang & Hopcroft, "Nesterov Accelerated Gradient and Scale Invariance for
Adversarial Attacks", ICLR 2020 (https://arxiv.org/abs/1908.06281). MI-FGSM with the
gradient taken at the Nesterov look-ahead point ``x_t + step_size * decay * g_t``:
``g_{t+1} = decay * g_t + grad(x_nes) / ||grad(x_nes)||_1``,
``x_{t+1} = proj(x_t + step_size * sign(g_{t+1}))``. Defaults as in the paper: ``decay = 1``,
``step_size = eps / steps``, 10 steps.

The look-ahead point is projected onto the eps ball and the bounds before its gradient is
taken, so its forward pass doubles as the early-stop check: a point whose look-ahead is
adversarial keeps it (it lies in the threat model). With ``decay = 0`` there is no
look-ahead and NI-FGSM is iterative FGSM (PGD without random start).

Example:
    >>> NIFGSM(eps=0.1, steps=10).run(target, x, y).robust_accuracy
"""

from __future__ import annotations

import torch

from advlab.attacks.evasion.iterative import StepState
from advlab.attacks.evasion.mifgsm import MIFGSM
from advlab.registry import register_attack


@register_attack
class NIFGSM(MIFGSM):
    """NI-FGSM: MI-FGSM with the gradient at the Nesterov look-ahead point.

    Args: as :class:`~advlab.attacks.evasion.mifgsm.MIFGSM`.
    """

    name = "nifgsm"
    paper = "Lin et al. 2020, arXiv:1908.06281"
    summary = "Nesterov iterative FGSM: MI-FGSM with the gradient at a look-ahead point."
    link = "arXiv:1908.06281"

    def _lookahead(self, x: torch.Tensor, state: StepState) -> torch.Tensor:
        if self.decay == 0:
            return x
        m = state.rows["momentum"][state.idx]
        return state.project(x + state.step_size * self.decay * m)

"""Stealing a language model's final layer from full logit vectors, as a plugin.

Carlini, Paleka, Dvijotham, Steinke, Hayase, Cooper, Lee, Jagielski, Nasr, Conmy, Wallace,
Rolnick & Tramer 2024, "Stealing Part of a Production Language Model", ICML,
arXiv:2403.06634. The numerics are :mod:`advlab.lm.stealing` (on
:func:`advlab.attacks.extraction.logit_svd.logit_svd`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from advlab.access import Access
from advlab.lm.attack import LMAttack, LMData, LMResult
from advlab.lm.stealing import last_logits, reachable_final_layer, relative_error, steal_final_layer
from advlab.lm.target import LMTarget
from advlab.registry import register_plugin


@register_plugin
class LMLogitSVD(LMAttack):
    """Hidden dimension and final layer (up to a linear map) from ``query_budget`` random
    prompts' next-token logits. The value is ``1 - relative error`` of the recovered layer;
    the baseline the same for a random subspace of the same dimension.

    Args:
        query_budget: prompts sent (each returns one full logit vector).
        prompt_length: printable bytes per random prompt.
        seed: seed of the prompts.
    """

    name: ClassVar[str] = "lm_logit_svd"
    paper: ClassVar[str] = "Carlini et al. 2024, Stealing Part of a Production Language Model, arXiv:2403.06634"  # fmt: skip
    summary: ClassVar[str] = "hidden dimension and final layer of a language model by SVD"
    tags: ClassVar[frozenset[str]] = frozenset({"threat:extraction"})
    flags: ClassVar[frozenset[str]] = frozenset({"query_based", "randomized"})
    requires: ClassVar[Access] = Access.SCORES
    fast_params: ClassVar[dict[str, object]] = {"query_budget": 160}

    def __init__(self, *, query_budget: int = 512, prompt_length: int = 10, seed: int = 0) -> None:
        self.query_budget = query_budget
        self.prompt_length = prompt_length
        self.seed = seed

    def _validate(self) -> None:
        super()._validate()
        self._positive(query_budget=self.query_budget, prompt_length=self.prompt_length)

    def _attack(self, target: LMTarget, data: LMData) -> LMResult:
        gen = torch.Generator().manual_seed(self.seed)
        dev = target.model.tok.weight.device
        shape = (self.query_budget, self.prompt_length)
        prompts = torch.randint(32, 127, shape, generator=gen).to(dev)
        stolen = steal_final_layer(last_logits(target.model, prompts))
        truth = reachable_final_layer(target.model)  # the experimenter's reference
        rng = np.random.default_rng(self.seed)
        random_basis = rng.standard_normal(stolen.basis.shape)
        return LMResult(
            metric="one_minus_relative_error",
            value=1.0 - relative_error(stolen.basis, truth),
            baseline=1.0 - relative_error(random_basis, truth),
            details={"hidden_dim": stolen.hidden_dim, "width": target.model.cfg.width},
        )

"""GCG as a plugin: adversarial suffixes that force chosen target strings (white box).

Zou, Wang, Carlini, Nasr, Kolter & Fredrikson 2023, "Universal and Transferable Adversarial
Attacks on Aligned Language Models", arXiv:2307.15043. The algorithm is
:func:`advlab.lm.gcg.gcg`; this class gives it the plugin contract.
"""

from __future__ import annotations

from typing import ClassVar

from advlab.access import Access
from advlab.lm.gcg import Prompt, SuffixResult, gcg
from advlab.lm.plugins._force import SuffixSearch
from advlab.lm.target import LMTarget
from advlab.registry import register_plugin


@register_plugin
class GCG(SuffixSearch):
    """Greedy Coordinate Gradient suffixes for each of ``data.prompts`` (or one universal
    suffix for all of them).

    Args:
        steps: search steps per suffix (the search stops at the first forcing candidate).
        candidates: single-token swaps evaluated per step (nanoGCG's ``search_width``).
        top_k: substitutions per position ranked by the one-hot gradient (widened after
            steps that found nothing better).
        suffix_length: tokens of the suffix (printable ASCII bytes).
        universal: one suffix for every prompt instead of one per prompt.
        seed: seed of the candidate sampling.

    Example::

        res = GCG(steps=100).run(LMTarget(model, tok), LMData(prompts=[...]))
        res.value  # share of prompts forced
    """

    name: ClassVar[str] = "gcg"
    paper: ClassVar[str] = "Zou et al. 2023, Universal and Transferable Adversarial Attacks on Aligned Language Models, arXiv:2307.15043"  # fmt: skip
    summary: ClassVar[str] = "gradient-ranked token swaps force a chosen output (white box)"
    tags: ClassVar[frozenset[str]] = frozenset({"threat:evasion"})
    flags: ClassVar[frozenset[str]] = frozenset({"iterative", "randomized", "targeted"})
    requires: ClassVar[Access] = Access.GRADIENTS
    fast_params: ClassVar[dict[str, object]] = {"steps": 40, "candidates": 64}

    def __init__(
        self,
        *,
        steps: int = 100,
        candidates: int = 64,
        top_k: int = 16,
        suffix_length: int = 8,
        universal: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(
            steps=steps, candidates=candidates, suffix_length=suffix_length,
            universal=universal, seed=seed,
        )  # fmt: skip
        self.top_k = top_k

    def _validate(self) -> None:
        super()._validate()
        self._positive(top_k=self.top_k)

    def _search(self, target: LMTarget, prompts: list[Prompt]) -> SuffixResult:
        return gcg(
            target.model, prompts, suffix_length=self.suffix_length, steps=self.steps,
            batch=self.candidates, top_k=self.top_k, seed=self.seed,
        )  # fmt: skip

"""Random search over suffix tokens as a plugin: the gradient-free baseline of GCG; it needs
only the log-probabilities of the target.

Andriushchenko, Croce & Flammarion 2024, "Jailbreaking Leading Safety-Aligned LLMs with
Simple Adaptive Attacks", arXiv:2404.02151. The algorithm is
:func:`advlab.lm.gcg.random_search`.
"""

from __future__ import annotations

from typing import ClassVar

from advlab.access import Access
from advlab.lm.gcg import Prompt, SuffixResult, random_search
from advlab.lm.plugins._force import SuffixSearch
from advlab.lm.target import LMTarget
from advlab.registry import register_plugin


@register_plugin
class SuffixRandomSearch(SuffixSearch):
    """Uniformly random single-token swaps of a suffix, the best kept when not worse.

    Args:
        steps: search steps per suffix (stops at the first forcing candidate).
        candidates: random swaps evaluated per step.
        suffix_length: tokens of the suffix (printable ASCII bytes).
        universal: one suffix for every prompt instead of one per prompt.
        seed: seed of the swaps.
    """

    name: ClassVar[str] = "suffix_random_search"
    paper: ClassVar[str] = "Andriushchenko et al. 2024, Jailbreaking Leading Safety-Aligned LLMs with Simple Adaptive Attacks, arXiv:2404.02151"  # fmt: skip
    summary: ClassVar[str] = "random token swaps kept when the target's loss drops (scores only)"
    tags: ClassVar[frozenset[str]] = frozenset({"threat:evasion"})
    flags: ClassVar[frozenset[str]] = frozenset(
        {"iterative", "randomized", "targeted", "query_based"}
    )
    requires: ClassVar[Access] = Access.SCORES
    fast_params: ClassVar[dict[str, object]] = {"steps": 40, "candidates": 64}

    def _search(self, target: LMTarget, prompts: list[Prompt]) -> SuffixResult:
        return random_search(
            target.model, prompts, suffix_length=self.suffix_length, steps=self.steps,
            batch=self.candidates, seed=self.seed,
        )  # fmt: skip

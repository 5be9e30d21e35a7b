"""What the suffix searches (GCG, random search) share as plugins: encoding the prompts,
the unattacked baseline and the result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from advlab.lm.attack import ForcePrompt, LMAttack, LMData, LMResult
from advlab.lm.gcg import Prompt, SuffixResult, forced
from advlab.lm.target import LMTarget

Search = Callable[[list[Prompt]], SuffixResult]


def encode(target: LMTarget, p: ForcePrompt) -> Prompt:
    tok = target.tokenizer
    return Prompt(tok.encode(p.stem, bos=True), tok.encode(p.after), tok.encode(p.target))


def force(
    target: LMTarget, data: LMData, *, universal: bool, suffix_length: int, search: Search
) -> LMResult:
    """Run ``search`` per prompt (or once over all of them when ``universal``); the value is
    the share of prompts whose target greedy decoding says after the found suffix, the
    baseline the same share after the initial suffix."""
    prompts = [encode(target, p) for p in data.prompts]
    start = torch.full((suffix_length,), ord("!"), dtype=torch.long)
    base = [forced(target.model, p, start.to(target.model.tok.weight.device)) for p in prompts]
    groups = [prompts] if universal else [[p] for p in prompts]
    runs = [search(g) for g in groups]
    ok: list[bool] = []
    for g, r in zip(groups, runs, strict=True):
        ok.extend([r.success] * len(g))
    details: dict[str, Any] = {
        "suffixes": [target.tokenizer.decode(r.suffix) for r in runs],
        "forced": ok,
        "steps_to_success": [r.steps_to_success for r in runs],
        "forward_passes": [r.forward_passes for r in runs],
        "losses": [r.losses for r in runs],
    }
    return LMResult(
        metric="forced_share",
        value=sum(ok) / len(ok),
        baseline=sum(base) / len(base),
        details=details,
        gradient_calls=sum(r.gradient_calls for r in runs),
    )


class SuffixSearch(LMAttack):
    """The parameters and the run the suffix searches share; subclasses give ``_search``."""

    def __init__(
        self,
        *,
        steps: int = 100,
        candidates: int = 64,
        suffix_length: int = 8,
        universal: bool = False,
        seed: int = 0,
    ) -> None:
        self.steps = steps
        self.candidates = candidates
        self.suffix_length = suffix_length
        self.universal = universal
        self.seed = seed

    def _validate(self) -> None:
        super()._validate()
        self._positive(
            steps=self.steps, candidates=self.candidates, suffix_length=self.suffix_length
        )

    def _search(self, target: LMTarget, prompts: list[Prompt]) -> SuffixResult:
        raise NotImplementedError

    def _attack(self, target: LMTarget, data: LMData) -> LMResult:
        self._need("prompts", data.prompts)
        return force(
            target, data, universal=self.universal, suffix_length=self.suffix_length,
            search=lambda ps: self._search(target, ps),
        )  # fmt: skip

"""A language model as a target: the model, its tokenizer, the access it grants and a query
meter that counts every sequence sent forward.

The meter is a forward pre-hook on the model, installed while an attack runs
(:meth:`LMTarget.metered`), so every forward pass an attack makes -- candidate batches,
gradient passes, sampling steps, scoring -- is counted without the attack's code knowing: one
query is one sequence sent forward. With ``query_budget`` the hook raises
:class:`~advlab.errors.BudgetExhausted` before a call that would overspend it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from advlab.access import Access
from advlab.lm.model import TinyGPT
from advlab.lm.tokenizer import ByteTokenizer
from advlab.meter import QueryMeter


@dataclass
class LMTarget:
    """``model`` behind ``access`` (gradients: white box; scores: logits or log-probabilities
    of given text, as an API with ``logprobs`` returns; labels: generated text only)."""

    model: TinyGPT
    tokenizer: ByteTokenizer
    access: Access = Access.GRADIENTS
    query_budget: int | None = None
    meter: QueryMeter = field(init=False)

    def __post_init__(self) -> None:
        self.access = Access.parse(self.access)
        self.meter = QueryMeter(query_budget=self.query_budget)

    def lowered(self, access: Access | str) -> LMTarget:
        """The same model granting less access (a fresh meter, the same budget)."""
        return LMTarget(self.model, self.tokenizer, Access.parse(access), self.query_budget)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "tiny_gpt",
            "access": self.access.name.lower(),
            "model": self.model.cfg.to_dict(),
            "query_budget": self.query_budget,
        }

    @contextmanager
    def metered(self) -> Iterator[QueryMeter]:
        """Count (and budget) every forward pass of the model while the block runs."""

        def hook(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            x = args[0] if args and args[0] is not None else kwargs.get("embeds")
            if x is None:
                x = kwargs.get("ids")
            self.meter.charge(int(x.shape[0]) if x is not None else 1)

        handle = self.model.register_forward_pre_hook(hook, with_kwargs=True)
        try:
            yield self.meter
        finally:
            handle.remove()

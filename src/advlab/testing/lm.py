"""Checks of the ``lm`` family (attacks on a language model itself): access, the query
meter and its budget, determinism, JSON, and the efficacy floor.

Efficacy floor (rule): on the kit's tiny GPT (:data:`advlab.lm.train.TINY`, trained once and
cached on disk), each attack's figure of merit must beat the same figure for an attacker who
does nothing useful, measured in the same run (``LMResult.value > LMResult.baseline``): the
unattacked suffix, a random sample, a coin, a random subspace. A no-op fails it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from advlab.access import Access
from advlab.errors import AccessError, BudgetExhausted
from advlab.testing._registry import check, expect_error, register_checks


@cache
def _lm() -> Any:
    from advlab.lm.train import TINY, tiny_gpt

    return tiny_gpt(*TINY, device="cpu")


@cache
def lm_data() -> Any:
    """Prompts, secrets, two canaries (most and least repeated) and member / non-member
    records of the kit's tiny GPT."""
    from advlab.lm.attack import ForcePrompt, LMData
    from advlab.lm.corpus import make_corpus

    corpus = _lm().corpus
    records = [d for d in corpus.documents if d.startswith("record")]
    fresh = [d for d in make_corpus(n_documents=600, seed=11).documents if d.startswith("record")]
    fresh = [d for d in fresh if d not in set(records)]
    canaries = sorted(corpus.canaries, key=lambda c: c.repeats)
    return LMData(
        prompts=[ForcePrompt("the capital of ", " is ", t) for t in ("lima", "riga")],
        secrets=list(corpus.secrets),
        canaries=[canaries[0], canaries[-1]],
        members=records[:100],
        non_members=fresh[:100],
        extraction_prompts=["the pin of "],
    )


def lm_target(access: Access = Access.GRADIENTS, query_budget: int | None = None) -> Any:
    """A fresh target (fresh meter) around the kit's tiny GPT."""
    from advlab.lm.target import LMTarget

    lm = _lm()
    return LMTarget(lm.model, lm.tokenizer, access, query_budget)


def _run(plugin: Any, target: Any = None) -> Any:
    return plugin.run(lm_target() if target is None else target, lm_data())


_FULL: dict[str, Any] = {}


def _full_run(plugin: Any) -> Any:
    """One unbudgeted run per parameter set, shared by the checks that only read it (the
    determinism check runs its own)."""
    key = f"{type(plugin).__qualname__}{plugin.get_params()}"
    if key not in _FULL:
        _FULL[key] = _run(plugin)
    return _FULL[key]


@check("lm_counts_queries_and_respects_the_budget")
def counts_queries_and_respects_the_budget(plugin: Any) -> None:
    """Every forward pass is counted; with half of that as the target's budget the attack
    stays within it (finishing or stopping with BudgetExhausted)."""
    full = _full_run(plugin)
    assert full.queries > 0, "counted no queries"
    budget = max(full.queries // 2, 1)
    target = lm_target(query_budget=budget)
    try:
        res = _run(plugin, target)
    except BudgetExhausted:
        res = None
    assert target.meter.queries <= budget, f"spent {target.meter.queries} of {budget}"
    if res is not None:
        assert res.queries <= budget


@check("lm_result_json_roundtrip")
def result_json_roundtrip(plugin: Any) -> None:
    from advlab.results import Result

    res = _full_run(plugin)
    back: Any = Result.from_json(res.to_json())
    assert type(back) is type(res)
    assert (back.value, back.baseline, back.queries) == (res.value, res.baseline, res.queries)
    assert back.summary()["attack"] == plugin.name
    json.dumps(res.to_dict(arrays=False))


@check("lm_deterministic_under_seed")
def deterministic_under_seed(plugin: Any) -> None:
    a, b = _run(plugin.clone(seed=3)), _run(plugin.clone(seed=3))
    assert (a.value, a.baseline, a.queries) == (b.value, b.baseline, b.queries)


@check("lm_refuses_insufficient_access")
def refuses_insufficient_access(plugin: Any) -> None:
    lower = Access(int(plugin.requires) - 1) if plugin.requires > Access.LABELS else None
    if lower is None:  # needs nothing beyond generated text: nothing to refuse
        return
    expect_error(AccessError, "access", _run, plugin, lm_target(lower))


@check("lm_efficacy_floor")
def efficacy_floor(plugin: Any) -> None:
    """The attack beats the do-nothing baseline (see the module doc)."""
    res = _full_run(plugin)
    assert res.value > res.baseline, f"{res.metric} {res.value:.4f} <= baseline {res.baseline:.4f}"


register_checks(
    "lm",
    [
        counts_queries_and_respects_the_budget,
        result_json_roundtrip,
        deterministic_under_seed,
        refuses_insufficient_access,
        efficacy_floor,
    ],
)

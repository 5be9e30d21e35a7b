"""Extraction checks: query budgets, access, attacker data, determinism, JSON, and the
efficacy floor.

Efficacy floor (rule): on the undefended digits CNN, with the training split as the
attacker's pool, the stolen model must agree with the target on the test split more often
than any surrogate whose labels are independent of the target -- a surrogate trained on
random labels, or the best constant one, whose agreement is at most the target's most
frequent label share ``max_c p_c`` -- by :data:`MARGIN`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from advlab.access import Access
from advlab.errors import AccessError, BudgetExhausted, InputError
from advlab.testing import fixtures
from advlab.testing._compat import flags_of
from advlab.testing._registry import check, expect_error, register_checks

MARGIN = 0.05
"""Agreement above the best label-independent surrogate's that the floor requires."""


def steal(plugin: Any, target: Any = None, with_data: bool = True) -> Any:
    ds = fixtures.digits()
    return plugin.extract(
        fixtures.victim() if target is None else target,
        ds.x_train if with_data else None,
        x_eval=ds.x_test,
        y_eval=ds.y_test,
        n_uniform=200,
    )


@check("respects_query_budget")
def respects_query_budget(plugin: Any) -> None:
    """A target's total query budget binds: the attack stays within it (finishing with
    fewer queries or stopping with BudgetExhausted), and reports what it spent."""
    full = steal(plugin)
    assert full.queries > 0, "spent no queries"
    budget = max(full.queries // 2, 1)
    target = fixtures.victim_bundle().target(device="cpu", query_budget=budget)
    try:
        res = steal(plugin, target)
    except BudgetExhausted:
        res = None
    assert target.meter.queries <= budget, f"spent {target.meter.queries} of {budget}"
    if res is not None:
        assert res.queries <= budget
    own = plugin.get_params().get("query_budget")
    if isinstance(own, int):
        assert full.queries <= own, f"spent {full.queries} with query_budget={own}"


@check("result_json_roundtrip")
def result_json_roundtrip(plugin: Any) -> None:
    from advlab.results import Result

    res = steal(plugin)
    back: Any = Result.from_json(res.to_json())
    assert type(back) is type(res)
    assert back.fidelity == res.fidelity and back.queries == res.queries
    assert back.summary()["attack"] == plugin.name
    json.dumps(res.to_dict(arrays=False))


@check("deterministic_under_seed")
def deterministic_under_seed(plugin: Any) -> None:
    over = {"seed": 3} if "seed" in type(plugin)._param_names() else {}
    a, b = steal(plugin.clone(**over)), steal(plugin.clone(**over))
    assert a.fidelity == b.fidelity and a.queries == b.queries


def _needs_more_than_labels(cls: type[Any]) -> bool:
    return getattr(cls, "requires", Access.LABELS) > Access.LABELS


@check("refuses_insufficient_access", applies=_needs_more_than_labels)
def refuses_insufficient_access(plugin: Any) -> None:
    from advlab.targets import LabelsOnly, ScoresOnly

    target = fixtures.victim()
    lowered = LabelsOnly(target) if plugin.requires == Access.SCORES else ScoresOnly(target)
    expect_error(AccessError, "access", steal, plugin, lowered)


@check("needs_data_says_so", applies=lambda cls: "needs_data" in flags_of(cls))
def needs_data_says_so(plugin: Any) -> None:
    """An attack that needs the attacker's data says so when given none."""
    expect_error(InputError, "data", steal, plugin, with_data=False)


@check("efficacy_floor")
def efficacy_floor(plugin: Any) -> None:
    """The stolen model beats a random-label surrogate's agreement (see the module doc)."""
    ds = fixtures.digits()
    res = steal(plugin)
    labels = fixtures.victim().labels(torch.as_tensor(ds.x_test)).cpu().numpy()
    chance = float(np.bincount(labels).max() / len(labels))
    got = res.fidelity.get("test")
    assert got is not None, "the attack recovered no classifier to measure"
    assert got > chance + MARGIN, (
        f"test agreement {got:.3f}; a random-label surrogate gets at most {chance:.3f}"
    )


register_checks(
    "extraction",
    [
        respects_query_budget,
        result_json_roundtrip,
        deterministic_under_seed,
        refuses_insufficient_access,
        needs_data_says_so,
        efficacy_floor,
    ],
)

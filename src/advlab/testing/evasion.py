"""Evasion checks: bounds, eps ball, metering, budgets, access, determinism, JSON, and the
efficacy floor.

Efficacy floor (rule): with ``eps`` half the data range per coordinate, measured in the
attack's norm (``linf``: ``w/2``; ``l2``: ``w/2 * sqrt(d)``; ``l1``: ``w/2 * d``; ``w`` the
width of the bounds, ``d`` the input dimension), an attack must break more than half of the
points the undefended digits CNN classifies correctly. A ball that large holds a flat grey
image, so any attack that searches at all clears it; an attack returning ``x`` unchanged
breaks none.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import torch

from advlab.access import Access
from advlab.errors import AccessError, ConfigError, InputError
from advlab.norms import lp_norm
from advlab.testing import fixtures
from advlab.testing._compat import flags_of
from advlab.testing._registry import check, expect_error, register_checks

EPS = {"linf": 0.15, "l2": 1.5, "l1": 6.0}
"""The eps of the hygiene checks on [0, 1] digits: large enough that attacks succeed on some
points, small enough that others stay robust."""

FLOOR = 0.5
"""An attack at the large eps breaks more than this fraction of correctly classified points."""


def large_eps(norm: str, width: float, dim: int) -> float:
    """Half the data range per coordinate, measured in ``norm`` (the floor's eps)."""
    half = width / 2
    return {"linf": half, "l2": half * math.sqrt(dim), "l1": half * dim}[norm]


def configured(plugin: Any, eps: float | None = None, **over: Any) -> Any:
    """``plugin`` with a norm it supports (``linf`` first), the kit's eps, and the kit's
    surrogate when it needs one and has none."""
    norms = tuple(getattr(plugin, "norms", ("linf",)))
    norm = "linf" if "linf" in norms else norms[0]
    kw: dict[str, Any] = {"norm": norm, "eps": EPS[norm] if eps is None else eps}
    names = set(type(plugin)._param_names())
    needs_surrogate = "needs_surrogate" in flags_of(plugin) or "surrogate" in names
    if needs_surrogate and "surrogate" in names and plugin.get_params().get("surrogate") is None:
        kw["surrogate"] = fixtures.surrogate()
    kw.update(over)
    return plugin.clone(**{k: v for k, v in kw.items() if k in names})


@check("respects_bounds_and_eps")
def respects_bounds_and_eps(plugin: Any) -> None:
    """Outputs stay in the bounds and the eps ball; the result's robust accuracy is the
    accuracy on the returned points; accuracy never rises; failures are returned unchanged;
    queries are metered."""
    x, y = fixtures.batch()
    target = fixtures.victim()
    atk = configured(plugin)
    res = atk.run(target, x, y)
    xa, x0 = res.x_adv, torch.as_tensor(x)
    assert xa.shape == x0.shape
    lo, hi = target.bounds
    assert float(xa.min()) >= lo - 1e-6 and float(xa.max()) <= hi + 1e-6, "left the bounds"
    norms = lp_norm(xa - x0, atk.norm)
    assert float(norms.max()) <= atk.eps * (1 + 1e-4) + 1e-6, "left the eps ball"
    indep = float((fixtures.victim().labels(xa).cpu().numpy() == y).mean())
    assert abs(indep - res.robust_accuracy) < 1e-9, "robust_accuracy is not the measured accuracy"
    assert res.robust_accuracy <= res.clean_accuracy + 1e-9, "the attack raised accuracy"
    unchanged = ~res.success
    assert torch.equal(xa[unchanged], x0[unchanged]), "unsuccessful points were modified"
    assert res.queries > 0 and target.meter.queries >= res.queries, "queries are not metered"


@check("deterministic_under_seed")
def deterministic_under_seed(plugin: Any) -> None:
    """Two runs with the same seed give identical outputs."""
    x, y = fixtures.batch()
    over = {"seed": 3} if "seed" in type(plugin)._param_names() else {}
    r1 = configured(plugin, **over).run(fixtures.victim(), x, y)
    r2 = configured(plugin, **over).run(fixtures.victim(), x, y)
    assert torch.equal(r1.x_adv, r2.x_adv) and torch.equal(r1.success, r2.success)


@check("query_budget_holds")
def query_budget_holds(plugin: Any) -> None:
    """A total query budget that only covers the clean pass stops the attack early, with
    a message, within the budget."""
    x, y = fixtures.batch()
    budget = len(x) + 6
    target = fixtures.victim_bundle().target(device="cpu", query_budget=budget)
    res = configured(plugin).run(target, x, y)
    assert target.meter.queries <= budget, "spent more than the budget"
    assert res.stopped_early and "budget" in res.message
    assert res.robust_accuracy <= res.clean_accuracy + 1e-9


@check("result_json_roundtrip")
def result_json_roundtrip(plugin: Any) -> None:
    """The result survives JSON, and its compact form keeps the summary."""
    from advlab.results import EvasionResult, Result

    x, y = fixtures.batch(6)
    res = configured(plugin).run(fixtures.victim(), x, y)
    back: Any = Result.from_json(res.to_json())
    assert isinstance(back, EvasionResult)
    assert torch.equal(back.success, res.success)
    assert torch.allclose(back.x_adv, res.x_adv)
    assert back.robust_accuracy == res.robust_accuracy
    assert back.summary()["attack"] == plugin.name
    compact = json.loads(json.dumps(res.to_dict(arrays=False)))
    assert "x_adv" not in compact and compact["summary"]["n"] == 6


def _needs_more_than_labels(cls: type[Any]) -> bool:
    return getattr(cls, "requires", Access.LABELS) > Access.LABELS


@check("refuses_insufficient_access", applies=_needs_more_than_labels)
def refuses_insufficient_access(plugin: Any) -> None:
    """Run on a target that grants less than ``requires``, the attack says so."""
    from advlab.targets import LabelsOnly, ScoresOnly

    x, y = fixtures.batch()
    target = fixtures.victim()
    lowered = LabelsOnly(target) if plugin.requires == Access.SCORES else ScoresOnly(target)
    expect_error(AccessError, "access", configured(plugin).run, lowered, x, y)


@check("bad_inputs_are_clear")
def bad_inputs_are_clear(plugin: Any) -> None:
    """NaN, wrong shapes, out-of-bounds inputs and bad labels are one-line InputErrors."""
    x, y = fixtures.batch()
    atk = configured(plugin)
    target = fixtures.victim()
    bad = x.copy()
    bad[0].flat[0] = np.nan
    cases = [
        (bad, y, "NaN"),
        (x.reshape(len(x), -1), y, "expected"),
        (x * 16, y, "bounds"),
        (x, y + 100, "labels"),
    ]
    for xi, yi, word in cases:
        expect_error(InputError, word, atk.run, target, xi, yi)


@check("sweep_is_non_increasing")
def sweep_is_non_increasing(plugin: Any) -> None:
    """Robust accuracy over growing eps never increases."""
    x, y = fixtures.batch()
    atk = configured(plugin)
    e = atk.eps
    sweep = atk.sweep(fixtures.victim(), x, y, eps=[e / 4, e / 2, e])
    accs = sweep.robust_accuracy
    assert all(a >= b - 1e-9 for a, b in zip(accs, accs[1:]))
    assert sweep.eps == sorted(sweep.eps)


@check("bad_params_are_config_errors")
def bad_params_are_config_errors(plugin: Any) -> None:
    """An unsupported norm and a negative eps are ConfigErrors naming the parameter."""
    x, y = fixtures.batch(4)
    for over, word in (({"norm": "l7"}, "norm"), ({"eps": -1.0}, "eps")):
        expect_error(
            ConfigError, word, configured(plugin).clone(**over).run, fixtures.victim(), x, y
        )


@check("efficacy_floor")
def efficacy_floor(plugin: Any) -> None:
    """At a large eps (see the module doc) the attack breaks most correctly classified points."""
    x, y = fixtures.batch()
    target = fixtures.victim()
    lo, hi = target.bounds
    norm = configured(plugin).norm
    eps = large_eps(norm, float(hi) - float(lo), int(np.prod(x.shape[1:])))
    res = configured(plugin, eps=eps).run(target, x, y)
    correct = fixtures.victim().labels(torch.as_tensor(x)).cpu().numpy() == y
    broken = (res.success.cpu().numpy() & correct).sum() / max(int(correct.sum()), 1)
    assert broken > FLOOR, (
        f"broke {broken:.0%} of {int(correct.sum())} correctly classified points at "
        f"{norm} eps {eps:g}; the floor is more than {FLOOR:.0%}"
    )


def _on_tensors(c: Any) -> Any:
    """``c`` restricted to attacks on tensors: attacks on files (``modality:binary``) have
    their own twins in :mod:`advlab.testing.malware`."""
    return dataclasses.replace(
        c, applies=lambda cls, f=c.applies: f(cls) and "modality:binary" not in set(cls.tags)
    )


register_checks(
    "evasion",
    [
        _on_tensors(c)
        for c in (
            respects_bounds_and_eps,
            deterministic_under_seed,
            query_budget_holds,
            result_json_roundtrip,
            refuses_insufficient_access,
            bad_inputs_are_clear,
            sweep_is_non_increasing,
            bad_params_are_config_errors,
            efficacy_floor,
        )
    ],
)

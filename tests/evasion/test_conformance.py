"""Common conformance checks run over every registered evasion attack.

Like scikit-learn's ``parametrize_with_checks``: a new attack is tested the moment it is
registered. Budgets are shrunk through generic parameter names so the suite stays fast.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import numpy as np
import pytest
import torch

from advlab.access import Access
from advlab.errors import AccessError, ConfigError, InputError
from advlab.norms import lp_norm
from advlab.registry import all_attacks
from advlab.results import EvasionResult, Result
from advlab.targets import LabelsOnly, ScoresOnly

ATTACKS = all_attacks("evasion")

# generic budget shrinking by parameter name (any attack using these names gets them)
FAST: dict[str, Any] = {
    "steps": 5,
    "max_queries": 150,
    "binary_search_steps": 2,
    "n_target_classes": 2,
    "max_iter": 5,
    "version": "fast",
    "num_iter": 5,
    "n_restarts": 1,
}

# an eps each attack can use on [0, 1] digits with its first supported norm
EPS = {"linf": 0.15, "l2": 1.5, "l1": 6.0}


def make(name: str, surrogate: Any = None, **over: Any) -> Any:
    cls = ATTACKS[name]
    params = set(inspect.signature(cls.__init__).parameters)
    kw = {k: v for k, v in FAST.items() if k in params}
    norm = cls.norms[0] if "linf" not in cls.norms else "linf"
    kw["norm"] = norm
    kw["eps"] = EPS[norm]
    if "surrogate" in params:
        kw["surrogate"] = surrogate
        kw["attack_params"] = {"steps": 5}
    kw.update(over)
    return cls(**kw)


@pytest.fixture(scope="module")
def surrogate(digits_surrogate_bundle):
    return digits_surrogate_bundle.target(device="cpu")


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_constructor_stores_params_only(name):
    cls = ATTACKS[name]
    atk = cls()  # all defaulted, no work done
    params = atk.get_params()
    assert set(params) == set(cls._param_names())
    assert atk.clone().get_params() == params
    assert cls.paper and cls.summary, "metadata: paper and summary are required"
    assert isinstance(cls.requires, Access)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_runs_respects_bounds_and_eps(name, digits_target, small_batch, surrogate):
    x, y = small_batch
    atk = make(name, surrogate)
    res = atk.run(digits_target, x, y)
    assert isinstance(res, EvasionResult)
    xa = res.x_adv
    x0 = torch.as_tensor(x)
    assert xa.shape == x0.shape
    assert float(xa.min()) >= 0.0 - 1e-6 and float(xa.max()) <= 1.0 + 1e-6
    norms = lp_norm(xa - x0, atk.norm)
    assert float(norms.max()) <= atk.eps * (1 + 1e-4) + 1e-6
    # the result's robust accuracy is exactly the accuracy on the returned points
    pred = digits_target.labels(xa)
    indep = float((pred.cpu().numpy() == y).mean())
    assert indep == pytest.approx(res.robust_accuracy, abs=1e-9)
    # attacks never raise accuracy
    assert res.robust_accuracy <= res.clean_accuracy + 1e-9
    # unsuccessful points are returned unchanged
    unchanged = ~res.success
    assert torch.equal(xa[unchanged], x0[unchanged])
    assert res.queries > 0


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_deterministic_under_seed(name, digits_bundle, small_batch, surrogate):
    x, y = small_batch
    r1 = make(name, surrogate, seed=3).run(digits_bundle.target(device="cpu"), x, y)
    r2 = make(name, surrogate, seed=3).run(digits_bundle.target(device="cpu"), x, y)
    assert torch.equal(r1.x_adv, r2.x_adv)
    assert torch.equal(r1.success, r2.success)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_query_budget_holds(name, digits_bundle, small_batch, surrogate):
    x, y = small_batch
    budget = len(x) + 6  # the clean pass fits, the attack cannot finish
    target = digits_bundle.target(device="cpu", query_budget=budget)
    res = make(name, surrogate).run(target, x, y)
    assert target.meter.queries <= budget
    assert res.stopped_early
    assert "budget" in res.message
    assert res.robust_accuracy <= res.clean_accuracy + 1e-9


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_result_json_roundtrip(name, digits_target, small_batch, surrogate):
    x, y = small_batch
    res = make(name, surrogate).run(digits_target, x[:6], y[:6])
    back = Result.from_json(res.to_json())
    assert isinstance(back, EvasionResult)
    assert torch.equal(back.success, res.success)
    assert torch.allclose(back.x_adv, res.x_adv)
    assert back.robust_accuracy == res.robust_accuracy
    assert back.summary()["attack"] == name
    # the compact form (what the CLI and reports store) drops big arrays but keeps the summary
    compact = json.loads(json.dumps(res.to_dict(arrays=False)))
    assert "x_adv" not in compact and compact["summary"]["n"] == 6


@pytest.mark.parametrize(
    "name", sorted(n for n, c in ATTACKS.items() if c.requires > Access.LABELS)
)
def test_refuses_insufficient_access(name, digits_target, small_batch, surrogate):
    x, y = small_batch
    lowered = (
        LabelsOnly(digits_target)
        if ATTACKS[name].requires == Access.SCORES
        else ScoresOnly(digits_target)
    )
    with pytest.raises(AccessError, match="access"):
        make(name, surrogate).run(lowered, x, y)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_bad_inputs_are_clear(name, digits_target, small_batch, surrogate):
    x, y = small_batch
    atk = make(name, surrogate)
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        atk.run(digits_target, bad, y)
    with pytest.raises(InputError, match="expected"):
        atk.run(digits_target, x.reshape(len(x), -1), y)
    with pytest.raises(InputError, match="bounds"):
        atk.run(digits_target, x * 16, y)
    with pytest.raises(InputError, match="labels"):
        atk.run(digits_target, x, y + 100)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_sweep_is_non_increasing(name, digits_target, small_batch, surrogate):
    x, y = small_batch
    atk = make(name, surrogate)
    e = atk.eps
    sweep = atk.sweep(digits_target, x, y, eps=[e / 4, e / 2, e])
    accs = sweep.robust_accuracy
    assert all(a >= b - 1e-9 for a, b in zip(accs, accs[1:]))
    assert sweep.eps == sorted(sweep.eps)


def test_bad_parameters_raise_config_errors(digits_target, small_batch):
    x, y = small_batch
    with pytest.raises(ConfigError, match="norm"):
        ATTACKS["pgd"](norm="l7").run(digits_target, x, y)
    with pytest.raises(ConfigError, match="eps"):
        ATTACKS["pgd"](eps=-1.0).run(digits_target, x, y)
    with pytest.raises(ConfigError, match="steps"):
        ATTACKS["pgd"](steps=0).run(digits_target, x, y)

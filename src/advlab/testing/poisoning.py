"""Poisoning checks: budget, untouched clean points, bounds, determinism, JSON, clear
errors, and the efficacy floor.

``poison`` is called with the arguments it names, from: ``x, y`` (the digits training
split), ``bounds``, ``x_target`` / ``target_class`` (a correctly classified test point and
the next class), and ``model`` / ``surrogate`` (an MLP trained on the clean split).

Efficacy floor (rule): a victim retrained from scratch on the poisoned set must score higher
on the attack's own objective than the same victim (same seed) retrained on the clean set:
the triggered-input attack success rate for backdoors, the target point's classification as
the target class for targeted attacks, the test error for untargeted ones
(:func:`advlab.attacks.poisoning.evaluate_poisoning`).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from advlab.errors import ConfigError, InputError
from advlab.testing import fixtures
from advlab.testing._registry import check, expect_error, register_checks


def poison(plugin: Any, scale: float = 1.0) -> Any:
    from advlab.assess.task_base import bind_call
    from advlab.targets import TorchClassifier

    task = fixtures.poison_task()
    surrogate = TorchClassifier(task.model, input_shape=task.ds.input_shape, device="cpu")
    available = {
        "x": task.ds.x_train * scale,
        "y": task.ds.y_train,
        "bounds": tuple(task.ds.bounds),
        "x_target": task.x_target,
        "target_class": task.target_class,
        "model": task.model,
        "surrogate": surrogate,
    }
    return bind_call(plugin.poison, available)


@check("poisons_within_budget")
def poisons_within_budget(plugin: Any) -> None:
    """At most ``budget`` points change (inputs or labels), only those listed in
    ``indices``, and the poisoned inputs stay in the data bounds."""
    ds = fixtures.poison_task().ds
    res = poison(plugin)
    n = len(ds.x_train)
    b = plugin.get_params().get("budget")
    if isinstance(b, (int, float)) and not isinstance(b, bool):
        cap = int(b) if (isinstance(b, int) or b > 1) else int(round(b * n))
        assert res.n_poison <= max(cap, 1), f"{res.n_poison} poisons for budget {b}"
    x, y = np.asarray(res.x), np.asarray(res.y)
    if len(x) == n:
        changed = (x != ds.x_train).reshape(n, -1).any(1) | (y != ds.y_train)
        assert set(np.flatnonzero(changed)) <= set(np.asarray(res.indices).tolist()), (
            "points outside indices changed"
        )
    lo, hi = ds.bounds
    assert x.min() >= lo - 1e-6 and x.max() <= hi + 1e-6, "poisons left the data bounds"


@check("result_json_roundtrip")
def result_json_roundtrip(plugin: Any) -> None:
    from advlab.results import Result

    res = poison(plugin)
    back: Any = Result.from_json(res.to_json())
    assert type(back) is type(res)
    np.testing.assert_array_equal(np.asarray(back.x), np.asarray(res.x))
    np.testing.assert_array_equal(np.asarray(back.y), np.asarray(res.y))
    np.testing.assert_array_equal(np.asarray(back.indices), np.asarray(res.indices))
    assert back.summary()["attack"] == plugin.name
    json.dumps(res.to_dict(arrays=False))


@check("deterministic_under_seed")
def deterministic_under_seed(plugin: Any) -> None:
    over = {"seed": 3} if "seed" in type(plugin)._param_names() else {}
    a, b = poison(plugin.clone(**over)), poison(plugin.clone(**over))
    np.testing.assert_array_equal(np.asarray(a.x), np.asarray(b.x))
    np.testing.assert_array_equal(np.asarray(a.y), np.asarray(b.y))


@check("bad_data_is_clear")
def bad_data_is_clear(plugin: Any) -> None:
    """Inputs outside the data bounds are an InputError naming the bounds."""
    expect_error((InputError, ConfigError), "bounds", poison, plugin, scale=3.0)


@check("efficacy_floor")
def efficacy_floor(plugin: Any) -> None:
    """The poisoned victim beats the clean victim on the attack's objective."""
    from advlab.attacks.poisoning import evaluate_poisoning

    task = fixtures.poison_task()
    ds = task.ds
    res = poison(plugin)
    ev = evaluate_poisoning(
        res, ds.x_train, ds.y_train, ds.x_test, ds.y_test, spec=task.spec, train=task.train, seeds=1
    )
    got, base = ev.success_mean, float(np.mean(ev.baseline_success))
    assert got > base, f"{ev.evaluation} success {got:.3f}; the clean victim's is {base:.3f}"


register_checks(
    "poisoning",
    [
        poisons_within_budget,
        result_json_roundtrip,
        deterministic_under_seed,
        bad_data_is_clear,
        efficacy_floor,
    ],
)

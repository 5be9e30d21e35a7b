"""Inference checks (membership attacks): scores, metrics, access, determinism, JSON, and
the efficacy floor.

A membership attack scores :class:`~advlab.attacks.inference.Signals`
(``infer(signals)``); an attack that measures its own signals also offers
``run(target, x, y, members=...)``. Attacks needing reference models get the kit's eight
references; labels-only attacks get the target's labels on noisy augmentations.

Efficacy floor (rule): on an MLP overfit to half of a synthetic task (the other half held
out), the attack's ROC AUC must exceed chance (0.5) by :data:`MARGIN`.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import numpy as np

from advlab.access import Access
from advlab.testing import fixtures
from advlab.testing._registry import check, register_checks

MARGIN = 0.03
"""AUC above chance the floor requires (the task has 400 points: chance's spread is ~0.03)."""


def is_membership(cls: type[Any]) -> bool:
    """Membership attacks score signals (``score``); other inference attacks (attribute
    inference, model inversion) get the common checks and an efficacy floor they must
    declare as an expected failure until the kit has a fixture for them."""
    return callable(getattr(cls, "score", None))


def _labels_only(plugin: Any) -> bool:
    return getattr(plugin, "requires", Access.SCORES) <= Access.LABELS


def membership(plugin: Any) -> Any:
    """Run a membership attack on the kit's overfit task."""
    task = fixtures.membership_task()
    if not callable(getattr(plugin, "infer", None)):
        raise AssertionError(f"{plugin.name} is not a membership attack (no infer(signals))")
    run = getattr(plugin, "run", None)
    if callable(run) and "members" in inspect.signature(run).parameters:
        return run(task.target, task.x, task.y, members=task.members)
    signals = task.label_signals if _labels_only(plugin) else task.signals
    return plugin.infer(signals, n_boot=0)


@check("scores_every_example", applies=is_membership)
def scores_every_example(plugin: Any) -> None:
    """One finite score per example, and metrics against the ground truth."""
    task = fixtures.membership_task()
    res = membership(plugin)
    scores = np.asarray(res.scores)
    assert scores.shape == (len(task.x),) and np.isfinite(scores).all()
    assert 0.0 <= res.auc <= 1.0


@check("result_json_roundtrip", applies=is_membership)
def result_json_roundtrip(plugin: Any) -> None:
    from advlab.results import Result

    res = membership(plugin)
    back: Any = Result.from_json(res.to_json())
    assert type(back) is type(res)
    np.testing.assert_allclose(np.asarray(back.scores), np.asarray(res.scores))
    assert back.summary()["attack"] == plugin.name
    json.dumps(res.to_dict(arrays=False))


@check("deterministic_under_seed", applies=is_membership)
def deterministic_under_seed(plugin: Any) -> None:
    over = {"seed": 3} if "seed" in type(plugin)._param_names() else {}
    a, b = membership(plugin.clone(**over)), membership(plugin.clone(**over))
    np.testing.assert_array_equal(np.asarray(a.scores), np.asarray(b.scores))


@check("efficacy_floor")
def efficacy_floor(plugin: Any) -> None:
    """The attack beats chance on an overfit model (see the module doc)."""
    res = membership(plugin)
    assert res.auc > 0.5 + MARGIN, f"AUC {res.auc:.3f}; the floor is {0.5 + MARGIN:.2f}"


register_checks(
    "inference",
    [scores_every_example, result_json_roundtrip, deterministic_under_seed, efficacy_floor],
)

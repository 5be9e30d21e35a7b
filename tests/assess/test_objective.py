from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch

from advlab.attacks.evasion.objective import OPTIMISERS, ObjectiveAttack
from advlab.errors import ConfigError
from advlab.results import Result
from advlab.targets.base import ScoresOnly

AVAILABLE = [o for o in OPTIMISERS if o != "bayes"]


def _recording(f: Any) -> tuple[Any, list[np.ndarray]]:
    seen: list[np.ndarray] = []

    def g(z: np.ndarray) -> np.ndarray:
        seen.append(z.copy())
        return f(z)  # type: ignore[no-any-return]

    return g, seen


@pytest.mark.parametrize("optimiser", AVAILABLE)
def test_every_optimiser_respects_constraints_and_budget(optimiser: str) -> None:
    d = 12
    x0 = np.full(d, 0.5)
    x0[3] = 1.0
    goal = np.linspace(0.0, 1.0, d)
    f, seen = _recording(lambda z: -np.abs(z - goal).sum(1))
    atk = ObjectiveAttack(
        optimiser=optimiser,
        eps=0.2,
        norm="linf",
        max_queries=300,
        integer=[3],
        immutable=[0, 1],
        seed=3,
    )
    res = atk.optimise(f, x0, lower=0.0, upper=1.0, success=None)
    pts = np.concatenate(seen)
    assert len(pts) == res.queries == 300
    assert np.all(np.abs(pts - x0) <= 0.2 + 1e-9) and pts.min() >= 0 and pts.max() <= 1
    assert np.all(pts[:, [0, 1]] == 0.5)
    assert set(np.unique(pts[:, 3])) <= {1.0}
    assert np.all(pts[:, 3] == np.round(pts[:, 3]))
    assert res.value > -np.abs(x0 - goal).sum()  # improved on the start


@pytest.mark.parametrize("optimiser", AVAILABLE)
def test_optimisers_reach_an_easy_goal_and_stop(optimiser: str) -> None:
    d = 6
    f = lambda z: z.sum(1) - 0.75 * d  # noqa: E731  (success: coordinates mostly high)
    res = ObjectiveAttack(optimiser=optimiser, eps=None, max_queries=3000, seed=0).optimise(
        f, np.zeros(d), lower=0.0, upper=1.0, success=0.0
    )
    assert res.success and res.queries_to_success is not None
    # the batch holding the first success is the last one sent
    assert res.queries_to_success <= res.queries <= min(res.queries_to_success + 64, 3000)


def test_l2_ball_is_respected() -> None:
    f, seen = _recording(lambda z: z.sum(1))
    ObjectiveAttack(optimiser="cmaes", eps=0.3, norm="l2", max_queries=100, seed=0).optimise(
        f, np.full(8, 0.5), success=None
    )
    pts = np.concatenate(seen)
    assert np.all(np.linalg.norm(pts - 0.5, axis=1) <= 0.3 + 1e-9)


def test_bayes_is_optional_with_a_hint() -> None:
    try:
        import skopt  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="pip install scikit-optimize"):
            ObjectiveAttack(optimiser="bayes", max_queries=5).optimise(
                lambda z: z.sum(1), np.zeros(3), success=None
            )
    else:
        res = ObjectiveAttack(optimiser="bayes", eps=None, max_queries=20).optimise(
            lambda z: z.sum(1), np.zeros(3), success=None
        )
        assert res.queries == 20


def test_unknown_optimiser_is_rejected() -> None:
    with pytest.raises(ConfigError, match="optimiser must be one of"):
        ObjectiveAttack(optimiser="genetic").optimise(lambda z: z.sum(1), np.zeros(2))


def test_as_evasion_attack_on_a_scores_only_target() -> None:
    from assess_helpers import digits_target

    from advlab.data import load_dataset

    ds = load_dataset("digits", seed=0)
    x, y = ds.x_test[:8], ds.y_test[:8]
    target = ScoresOnly(digits_target("plain"))
    atk = ObjectiveAttack(optimiser="random", eps=0.3, max_queries=60, seed=1)
    r1 = atk.run(target, x, y)
    assert r1.gradient_calls == 0
    assert r1.queries <= 8 * (60 + 2) + 8
    assert r1.success_rate > 0
    assert float(r1.norms.max()) <= 0.3 + 1e-6
    # the queries to success travel in the result, not on the attack instance
    assert len(r1.queries_to_success) == int(r1.clean_correct.sum())
    assert all(q is None or 1 <= q <= 60 + 1 for q in r1.queries_to_success)
    assert not hasattr(atk, "_queries_to_success") and not hasattr(atk, "query_log_")
    back = Result.from_dict(json.loads(json.dumps(r1.to_dict())))
    assert back.queries_to_success == r1.queries_to_success
    r2 = ObjectiveAttack(optimiser="random", eps=0.3, max_queries=60, seed=1).run(target, x, y)
    assert torch.equal(r1.success, r2.success) and torch.equal(r1.x_adv, r2.x_adv)

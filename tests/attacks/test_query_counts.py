"""Per-point query counts of the query-based evasion attacks (Square, SimBA, HopSkipJump):
the data of the report's success-vs-queries curve."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from advlab.attacks.evasion import HopSkipJump, SimBA, Square
from advlab.attacks.evasion.querylog import QueryLog
from advlab.data import load_dataset
from advlab.models import SmallCNN, TrainConfig, train_model
from advlab.results import QueryCountedResult, Result
from advlab.targets import LabelsOnly, ScoresOnly, TorchClassifier

N = 20


@pytest.fixture(scope="module")
def digits() -> Iterator[tuple[TorchClassifier, torch.Tensor, torch.Tensor]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    ds = load_dataset("digits")
    torch.manual_seed(0)
    model = SmallCNN(width=8, hidden=32)
    train_model(model, ds.x_train, ds.y_train, TrainConfig(epochs=3, lr=3e-3), device="cpu")
    target = TorchClassifier(model.eval(), (0.0, 1.0), input_shape=(1, 8, 8), device="cpu")
    yield target, torch.tensor(ds.x_test[:N]), torch.tensor(ds.y_test[:N])
    torch.set_num_threads(threads)


CASES = [
    ("square", lambda: Square(eps=0.15, max_queries=60, restarts=2), ScoresOnly, 2),
    ("simba", lambda: SimBA(eps=0.15, max_queries=80), ScoresOnly, 1),
    (
        "hopskipjump",
        lambda: HopSkipJump(norm="l2", eps=1.5, max_queries=300, steps=5),
        LabelsOnly,
        1,
    ),
]


@pytest.mark.parametrize(("name", "make", "wrap", "restarts"), CASES, ids=[c[0] for c in CASES])
def test_per_point_counts_match_the_result(digits, name, make, wrap, restarts) -> None:
    target, x, y = digits
    attack = make()
    res = attack.run(wrap(target), x, y)
    assert isinstance(res, QueryCountedResult)
    log = res.queries_to_success
    attacked = int(res.clean_correct.sum())
    assert len(log) == attacked  # one entry per attacked point, restarts folded in
    broken = [q for q in log if q is not None]
    assert 0 < len(broken) < attacked or name == "hopskipjump"
    # the attack's own success count agrees with the independently re-checked one
    assert len(broken) == int(res.success.sum())
    cap = attack.max_queries * restarts
    assert all(1 <= q <= cap for q in broken)
    assert sum(broken) <= res.queries  # the total also holds clean and re-check queries
    curve = res.broken_within([0, 1, 5, 20, 60, 200, 10**6])
    assert list(curve) == sorted(curve) and curve[0] == 0.0
    assert curve[-1] == pytest.approx(len(broken) / attacked)
    back = Result.from_json(res.to_json())
    assert isinstance(back, QueryCountedResult) and back.queries_to_success == log
    assert not hasattr(attack, "_query_log") or attack._query_log is None  # no state kept


def test_square_counts_are_exact_without_restarts(digits) -> None:
    """Square spends one query per point at the start and one per iteration while the point
    is not broken: a point broken after k proposals cost k + 1."""
    target, x, y = digits
    res = Square(eps=0.15, max_queries=40).run(ScoresOnly(target), x, y)
    n, attacked = len(x), int(res.clean_correct.sum())
    spent = [40 if q is None else q for q in res.queries_to_success]
    # clean pass (n) + the attack's own queries + one re-check per attacked point
    assert res.queries == n + sum(spent) + attacked


def test_a_restart_adds_to_the_same_point() -> None:
    log = QueryLog()
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    log.record(x, torch.tensor([5, 7, 7]), torch.tensor([True, False, False]))
    log.record(x[1:], torch.tensor([3, 7]), torch.tensor([True, False]))  # restart
    assert log.entries == [5, 10, None]
    log.record(x + 100, torch.tensor([2, 2, 2]), torch.tensor([True, True, True]))  # new batch
    assert log.entries == [5, 10, None, 2, 2, 2]


def test_minimum_norm_sweep_is_read_off_one_run(digits) -> None:
    target, x, y = digits
    sweep = HopSkipJump(norm="l2", max_queries=200, steps=3).sweep(
        LabelsOnly(target), x, y, eps=[0.5, 2.0]
    )
    assert sweep.robust_accuracy[0] >= sweep.robust_accuracy[1]


def test_report_curve_uses_the_per_point_counts(digits) -> None:
    """The report's success-vs-queries curve of a Square record: the fraction of attacked
    points broken within N queries, non-decreasing, ending at the attack's success rate."""
    from advlab.report.view import _query_curves

    target, x, y = digits
    res = Square(eps=0.15, max_queries=60).run(ScoresOnly(target), x, y)
    task = {"kind": "evasion", "role": "suite", "requires": "scores", "variant": "tiny"}
    rec = {"status": "ok", "task": {**task, "attack": "square", "eps": 0.15}}
    rec["result"] = res.to_dict(arrays=False)
    curves, missing = _query_curves([rec])
    assert not missing and len(curves) == 1
    pts = curves[0]["points"]
    qs, fr = [q for q, _ in pts], [f for _, f in pts]
    assert qs == sorted(qs) and fr == sorted(fr) and fr[0] == 0.0
    assert fr[-1] == pytest.approx(int(res.success.sum()) / int(res.clean_correct.sum()))
    top: dict[float, float] = {}  # a tie of several points draws a vertical step at q
    for q, f in pts[1:]:
        top[q] = max(top.get(q, 0.0), f)
    for q, f in top.items():
        assert f == pytest.approx(float(res.broken_within([q])[0]))

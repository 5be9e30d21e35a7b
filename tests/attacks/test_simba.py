"""SimBA / SimBA-DCT (Guo et al. 2019): strength, eps ball, query accounting, budget, seeds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from advlab.attacks.evasion.simba import SimBA, block_order, dct_matrix
from advlab.data import load_dataset
from advlab.errors import AccessError, ConfigError
from advlab.models import SmallCNN, TrainConfig, train_model
from advlab.targets import LabelsOnly, ScoresOnly, TorchClassifier

N = 30


@pytest.fixture(scope="module")
def digits() -> Iterator[tuple[torch.nn.Module, torch.Tensor, torch.Tensor]]:
    """A narrow digits CNN trained in-process (about 95% test accuracy), single-threaded."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    ds = load_dataset("digits")
    torch.manual_seed(0)
    model = SmallCNN(width=8, hidden=32)
    train_model(model, ds.x_train, ds.y_train, TrainConfig(epochs=10, lr=3e-3), device="cpu")
    yield model.eval(), torch.tensor(ds.x_test[:N]), torch.tensor(ds.y_test[:N])
    torch.set_num_threads(threads)


def _target(model: torch.nn.Module, **kw: object) -> TorchClassifier:
    return TorchClassifier(model, (0.0, 1.0), input_shape=(1, 8, 8), device="cpu", **kw)  # type: ignore[arg-type]


def test_dct_basis_is_orthonormal_and_low_frequencies_come_first() -> None:
    d = dct_matrix(8)
    assert torch.allclose(d @ d.t(), torch.eye(8), atol=1e-5)
    assert torch.allclose(d[0], torch.full((8,), 8**-0.5), atol=1e-6)  # DC component
    order = block_order(2, 8, 8, initial=2, stride=2, generator=torch.Generator().manual_seed(0))
    assert sorted(order.tolist()) == list(range(128))
    u, v = (order % 64) // 8, order % 8
    band = torch.maximum(u, v)
    assert bool((band[:8] < 2).all())  # the 2 x 2 block of both channels first
    assert band.tolist() == sorted(band.tolist(), key=lambda b: 0 if b < 2 else 1 + (b - 2) // 2)


@pytest.mark.parametrize("basis", ["dct", "pixel"])
def test_breaks_the_model_inside_the_l2_ball(digits, basis: str) -> None:
    model, x, y = digits
    eps = 2.0
    res = SimBA(norm="l2", basis=basis, eps=eps, max_queries=300).run(
        ScoresOnly(_target(model)), x, y
    )
    assert res.clean_accuracy > 0.85
    assert res.robust_accuracy < res.clean_accuracy - 0.5
    assert float((res.x_adv - x).flatten(1).norm(dim=1).max()) <= eps * (1 + 1e-5)
    with torch.no_grad():
        pred = model(res.x_adv).argmax(1)
    assert bool((pred[res.success] != y[res.success]).all())


def test_linf_ball_is_respected(digits) -> None:
    model, x, y = digits
    res = SimBA(norm="linf", eps=0.15, step_size=0.5, max_queries=300).run(_target(model), x, y)
    assert float((res.x_adv - x).abs().max()) <= 0.15 + 1e-6
    assert res.robust_accuracy < res.clean_accuracy  # it still breaks some points


def test_queries_never_exceed_budget_per_point(digits) -> None:
    model, x, y = digits
    mq = 40
    res = SimBA(norm="l2", eps=0.3, step_size=0.05, max_queries=mq).run(_target(model), x, y)
    assert res.queries <= len(x) * (mq + 2)
    robust = int(res.robust.sum())
    assert robust > 0
    # point by point: the start query + at most mq - 1 more, plus the base's two checks
    for i in range(5):
        r = SimBA(norm="l2", eps=0.3, step_size=0.05, max_queries=mq).run(
            _target(model), x[i : i + 1], y[i : i + 1]
        )
        assert r.queries <= mq + 2
        if bool(r.robust.all()):
            assert r.queries >= mq  # a robust point uses (nearly) its whole budget


def test_target_budget_stops_early(digits) -> None:
    model, x, y = digits
    target = _target(model, max_queries=200)
    res = SimBA(norm="l2", eps=2.0, max_queries=500, batch_size=10).run(target, x, y)
    assert res.stopped_early
    assert target.meter.queries <= 200


def test_deterministic_under_seed(digits) -> None:
    model, x, y = digits
    a = SimBA(norm="l2", eps=1.0, max_queries=100, seed=1).run(_target(model), x, y)
    b = SimBA(norm="l2", eps=1.0, max_queries=100, seed=1).run(_target(model), x, y)
    c = SimBA(norm="l2", eps=1.0, max_queries=100, seed=2).run(_target(model), x, y)
    assert torch.equal(a.x_adv, b.x_adv) and a.queries == b.queries
    assert not torch.equal(a.x_adv, c.x_adv)


def test_targeted(digits) -> None:
    model, x, y = digits
    y_t = (y + 3) % 10
    res = SimBA(norm="l2", eps=3.0, step_size=0.3, max_queries=500).run(
        _target(model), x, y_t, targeted=True
    )
    assert res.success.float().mean() > 0.7
    with torch.no_grad():
        pred = model(res.x_adv).argmax(1)
    assert bool((pred[res.success] == y_t[res.success]).all())


def test_larger_steps_need_fewer_queries(digits) -> None:
    model, x, y = digits
    small = SimBA(norm="l2", eps=3.0, step_size=0.1, max_queries=400).run(_target(model), x, y)
    large = SimBA(norm="l2", eps=3.0, step_size=0.4, max_queries=400).run(_target(model), x, y)
    assert large.queries < small.queries


def test_needs_scores_and_valid_params(digits) -> None:
    model, x, y = digits
    with pytest.raises(AccessError):
        SimBA().run(LabelsOnly(_target(model)), x, y)
    with pytest.raises(ConfigError):
        SimBA(basis="wavelet").run(_target(model), x, y)
    with pytest.raises(ConfigError):
        SimBA(step_size=0.0).run(_target(model), x, y)


def test_tabular_inputs() -> None:
    gen = torch.Generator().manual_seed(0)
    model = torch.nn.Linear(12, 3)
    x = torch.rand(30, 12, generator=gen)
    target = TorchClassifier(model, (0.0, 1.0), input_shape=(12,), device="cpu")
    for basis in ("dct", "pixel"):
        res = SimBA(norm="l2", basis=basis, eps=3.0, step_size=0.3, max_queries=300).run(target, x)
        assert res.robust_accuracy < res.clean_accuracy
        assert float(res.norms.max()) <= 3.0 * (1 + 1e-5)

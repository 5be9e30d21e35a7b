"""HopSkipJump (Chen, Jordan & Wainwright 2020): labels only, minimum norm, budgets, seeds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from advlab.attacks.evasion.hopskipjump import HopSkipJump
from advlab.data import load_dataset
from advlab.errors import ConfigError
from advlab.models import SmallCNN, TrainConfig, train_model
from advlab.targets import LabelsOnly, TorchClassifier

N = 20


@pytest.fixture(scope="module")
def digits() -> Iterator[tuple[torch.nn.Module, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """A narrow digits CNN trained in-process (about 95% test accuracy), single-threaded."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    ds = load_dataset("digits")
    torch.manual_seed(0)
    model = SmallCNN(width=8, hidden=32)
    train_model(model, ds.x_train, ds.y_train, TrainConfig(epochs=10, lr=3e-3), device="cpu")
    yield (
        model.eval(),
        torch.tensor(ds.x_test[:N]),
        torch.tensor(ds.y_test[:N]),
        torch.tensor(ds.x_train[:100]),
    )
    torch.set_num_threads(threads)


def _target(model: torch.nn.Module, **kw: object) -> LabelsOnly:
    inner = TorchClassifier(model, (0.0, 1.0), input_shape=(1, 8, 8), device="cpu", **kw)  # type: ignore[arg-type]
    return LabelsOnly(inner)


def test_labels_only_minimum_norm_shrinks_with_queries(digits) -> None:
    model, x, y, _ = digits
    few = HopSkipJump(max_queries=150).run(_target(model), x, y)
    many = HopSkipJump(max_queries=1000).run(_target(model), x, y)
    assert few.clean_accuracy > 0.85
    # every clean-correct point gets an adversarial example (it starts from one)
    assert bool(few.success.eq(few.clean_correct).all())
    assert bool(many.success.eq(many.clean_correct).all())
    assert float(many.norms[many.success].median()) < 0.9 * float(few.norms[few.success].median())
    with torch.no_grad():
        pred = model(many.x_adv).argmax(1)
    assert bool((pred[many.success] != y[many.success]).all())
    assert float(many.x_adv.min()) >= 0.0 and float(many.x_adv.max()) <= 1.0


def test_linf(digits) -> None:
    model, x, y, _ = digits
    few = HopSkipJump(norm="linf", max_queries=150).run(_target(model), x, y)
    many = HopSkipJump(norm="linf", max_queries=800).run(_target(model), x, y)
    assert bool(many.success.eq(many.clean_correct).all())
    assert float(many.norms[many.success].median()) < float(few.norms[few.success].median())
    linf = (many.x_adv - x).flatten(1).abs().amax(1)
    assert torch.allclose(linf, many.norms, atol=1e-6)


def test_queries_never_exceed_budget_per_point(digits) -> None:
    model, x, y, _ = digits
    mq = 300
    res = HopSkipJump(max_queries=mq).run(_target(model), x, y)
    assert res.queries <= len(x) * (mq + 2)
    for i in range(3):
        r = HopSkipJump(max_queries=mq).run(_target(model), x[i : i + 1], y[i : i + 1])
        assert r.queries <= mq + 2
        assert r.queries >= mq - 20  # the budget is used, not left idle


def test_target_budget_stops_early(digits) -> None:
    model, x, y, _ = digits
    target = _target(model, max_queries=1500)
    res = HopSkipJump(max_queries=1000, batch_size=5).run(target, x, y)
    assert res.stopped_early
    assert target.meter.queries <= 1500
    assert res.attacked < len(x)


def test_deterministic_under_seed(digits) -> None:
    model, x, y, _ = digits
    a = HopSkipJump(max_queries=200, seed=5).run(_target(model), x, y)
    b = HopSkipJump(max_queries=200, seed=5).run(_target(model), x, y)
    c = HopSkipJump(max_queries=200, seed=6).run(_target(model), x, y)
    assert torch.equal(a.x_adv, b.x_adv) and a.queries == b.queries
    assert not torch.equal(a.x_adv, c.x_adv)


def test_fixed_eps_and_sweep(digits) -> None:
    model, x, y, _ = digits
    eps = 1.2
    res = HopSkipJump(eps=eps, max_queries=600).run(_target(model), x, y)
    assert float(res.norms.max()) <= eps * (1 + 1e-5)
    assert 0 < int(res.success.sum())
    # early stop inside eps: cheaper than the minimum-norm run
    free = HopSkipJump(max_queries=600).run(_target(model), x, y)
    assert res.queries < free.queries
    sw = HopSkipJump(max_queries=300).sweep(_target(model), x, y, eps=[0.5, 1.0, 2.0, 4.0])
    accs = [r.robust_accuracy for r in sw.results]
    assert accs == sorted(accs, reverse=True)
    assert accs[-1] < accs[0]
    assert sw.queries <= len(x) * (300 + 2)  # one minimum-norm run serves every eps


def test_targeted_from_starting_points(digits) -> None:
    model, x, y, pool = digits
    y_t = (y + 1) % 10
    res = HopSkipJump(max_queries=500, starting_points=pool).run(
        _target(model), x, y_t, targeted=True
    )
    assert res.success.float().mean() > 0.8
    with torch.no_grad():
        pred = model(res.x_adv).argmax(1)
    assert bool((pred[res.success] == y_t[res.success]).all())
    # the returned points are much closer to x than the starting points were
    d0 = torch.cdist(x.flatten(1), pool.flatten(1)).min(1).values
    assert float(res.norms[res.success].median()) < float(d0.median())


def test_invalid_params(digits) -> None:
    model, x, y, _ = digits
    with pytest.raises(ConfigError):
        HopSkipJump(max_queries=0).run(_target(model), x, y)
    with pytest.raises(ConfigError):
        HopSkipJump(norm="l1").run(_target(model), x, y)
    with pytest.raises(ConfigError):
        HopSkipJump(gamma=-1.0).run(_target(model), x, y)


def test_tabular_inputs() -> None:
    gen = torch.Generator().manual_seed(0)
    model = torch.nn.Linear(12, 3)
    x = torch.rand(20, 12, generator=gen)
    target = LabelsOnly(TorchClassifier(model, (0.0, 1.0), input_shape=(12,), device="cpu"))
    res = HopSkipJump(max_queries=400).run(target, x)
    assert bool(res.success.all())
    # a linear model's minimal L2 distance to the boundary is known: HSJ gets close to it
    with torch.no_grad():
        z = model(x)
    yy = z.argmax(1)
    w = model.weight.detach()
    gap = z.gather(1, yy[:, None]) - z  # (n, 3)
    wn = (w[yy][:, None, :] - w[None]).norm(dim=2)
    exact = (gap / wn.clamp_min(1e-12)).masked_fill(gap <= 0, float("inf")).min(1).values
    assert bool((res.norms >= exact - 1e-4).all())  # never below the true minimum
    assert float((res.norms / exact).median()) < 1.3

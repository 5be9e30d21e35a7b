"""Square Attack (Andriushchenko et al. 2020): strength, query accounting, budget, seeds, peers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from advlab.attacks.evasion.square import Square, eta, p_selection, window_size
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


def test_schedule_and_windows() -> None:
    assert p_selection(0.8, 0, 10000) == 0.8
    assert p_selection(0.8, 11, 10000) == 0.4
    assert p_selection(0.8, 9000, 10000) == pytest.approx(0.8 / 512)
    # rescaled: 500 of 1000 queries is iteration 5000 of 10000 -> 7 halvings
    assert p_selection(0.8, 500, 1000) == pytest.approx(0.8 / 128)
    assert window_size(0.8, 8, 8) == (7, 7)
    assert window_size(0.001, 8, 8) == (1, 1)
    assert window_size(0.5, 1, 30) == (1, 15)
    e = eta(5, 5, False)
    assert e.norm() == pytest.approx(1.0, abs=1e-5)
    assert e[:2].sum() > 0 > e[2:].sum()


@pytest.mark.parametrize(("norm", "eps"), [("linf", 0.2), ("l2", 1.5)])
def test_breaks_the_model_within_eps(digits, norm: str, eps: float) -> None:
    model, x, y = digits
    res = Square(norm=norm, eps=eps, max_queries=400).run(ScoresOnly(_target(model)), x, y)
    assert res.clean_accuracy > 0.85
    assert res.robust_accuracy < res.clean_accuracy - 0.4
    delta = (res.x_adv - x).flatten(1)
    n = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    assert float(n.max()) <= eps * (1 + 1e-5)
    assert float(res.x_adv.min()) >= 0.0 and float(res.x_adv.max()) <= 1.0
    # the success mask is honest: successful points are misclassified by the model
    with torch.no_grad():
        pred = model(res.x_adv).argmax(1)
    assert bool((pred[res.success] != y[res.success]).all())


def test_queries_never_exceed_budget_per_point(digits) -> None:
    model, x, y = digits
    mq = 60
    res = Square(eps=0.02, max_queries=mq).run(_target(model), x, y)
    # per point: at most mq attack queries + the base's clean check and re-check
    assert res.queries <= len(x) * (mq + 2)
    robust = int(res.robust.sum())
    assert robust > 0  # eps 0.02 is too small to break most points in 60 queries
    assert res.queries >= robust * (mq + 2)  # robust points spent their whole budget


def test_early_stop_saves_queries(digits) -> None:
    model, x, y = digits
    mq = 2000
    res = Square(eps=0.3, max_queries=mq).run(_target(model), x, y)
    assert res.robust_accuracy == 0.0
    assert res.queries < len(x) * mq / 10  # broken points stop querying


def test_target_budget_stops_early(digits) -> None:
    model, x, y = digits
    target = _target(model, max_queries=500)
    res = Square(eps=0.05, max_queries=1000, batch_size=10).run(target, x, y)
    assert res.stopped_early
    assert target.meter.queries <= 500
    assert "attacked" in res.message


def test_deterministic_under_seed(digits) -> None:
    model, x, y = digits
    a = Square(eps=0.1, max_queries=100, seed=3).run(_target(model), x, y)
    b = Square(eps=0.1, max_queries=100, seed=3).run(_target(model), x, y)
    c = Square(eps=0.1, max_queries=100, seed=4).run(_target(model), x, y)
    assert torch.equal(a.x_adv, b.x_adv)
    assert a.queries == b.queries
    assert not torch.equal(a.x_adv, c.x_adv)


def test_targeted(digits) -> None:
    model, x, y = digits
    y_t = (y + 1) % 10
    res = Square(eps=0.3, max_queries=500).run(_target(model), x, y_t, targeted=True)
    assert res.success.float().mean() > 0.7
    with torch.no_grad():
        pred = model(res.x_adv).argmax(1)
    assert bool((pred[res.success] == y_t[res.success]).all())


def test_sweep_non_increasing(digits) -> None:
    model, x, y = digits
    sw = Square(max_queries=150).sweep(_target(model), x, y, eps=[0.05, 0.15, 0.3])
    accs = [r.robust_accuracy for r in sw.results]
    assert accs == sorted(accs, reverse=True)
    assert accs[-1] < accs[0]


def test_needs_scores_and_valid_params(digits) -> None:
    model, x, y = digits
    with pytest.raises(AccessError):
        Square(eps=0.1).run(LabelsOnly(_target(model)), x, y)
    with pytest.raises(ConfigError):
        Square(eps=0.1, max_queries=0).run(_target(model), x, y)
    with pytest.raises(ConfigError):
        Square(eps=0.1, p_init=1.5).run(_target(model), x, y)


def test_tabular_inputs_linf_close_to_optimal() -> None:
    """On a linear model the optimal L-inf attack is known in closed form: Square should
    break nearly every point that can be broken."""
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(3, 12, generator=gen)
    model = torch.nn.Linear(12, 3, bias=False)
    model.weight.data = w
    x = torch.rand(40, 12, generator=gen)
    eps = 0.5
    with torch.no_grad():
        z = model(x)
    y = z.argmax(1)
    d = w[None, :, :] - w[y][:, None, :]  # (n, class, feature): gradient of z_j - z_y
    room = torch.where(d > 0, (1 - x).clamp(max=eps)[:, None], x.clamp(max=eps)[:, None])
    reach = (z - z.gather(1, y[:, None])) + (d.abs() * room).sum(2)
    reach[torch.arange(40), y] = float("-inf")
    breakable = reach.amax(1) > 1e-4
    assert int(breakable.sum()) >= 10
    target = TorchClassifier(model, (0.0, 1.0), input_shape=(12,), device="cpu")
    res = Square(norm="linf", eps=eps, max_queries=300).run(target, x, y)
    assert not bool((res.success & ~breakable).any())
    assert int(res.success.sum()) >= 0.9 * int(breakable.sum())
    res2 = Square(norm="l2", eps=2.0, max_queries=300).run(target, x, y)
    assert float(res2.norms.max()) <= 2.0 * (1 + 1e-5)
    assert res2.robust_accuracy < 0.8


def test_as_strong_as_torchattacks_square(digits) -> None:
    import torchattacks

    model, x, y = digits
    mq, eps = 300, 0.1
    ours = Square(eps=eps, max_queries=mq).run(_target(model), x, y)
    ta = torchattacks.Square(model, norm="Linf", eps=eps, n_queries=mq, seed=0)
    x_ta = ta(x, y)
    with torch.no_grad():
        ta_acc = float((model(x_ta).argmax(1) == y).float().mean())
    assert ours.robust_accuracy <= ta_acc + 0.1

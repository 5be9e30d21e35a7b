"""Output-perturbation defenses: each wrapper behaves as specified."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advlab.access import Access
from advlab.defenses.output import (
    GaussianOutputNoise,
    LabelOnlyOutput,
    PredictionPoisoning,
    ReverseSigmoid,
    Rounding,
    TopK,
)
from advlab.errors import AccessError, ConfigError
from advlab.registry import DEFENSES
from advlab.targets.base import LabelsOnly
from advlab.targets.torch import TorchClassifier


@pytest.fixture(scope="module")
def target() -> TorchClassifier:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 5))
    with torch.no_grad():
        model[2].weight.mul_(4.0)
    return TorchClassifier(model, bounds=(0.0, 1.0), input_shape=(6,), device="cpu")


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.rand(200, 6, generator=torch.Generator().manual_seed(1))


def _probs(target: TorchClassifier, x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(target.model(x), 1).detach()


ALL = [
    Rounding(decimals=1),
    TopK(k=2),
    LabelOnlyOutput(),
    GaussianOutputNoise(sigma=0.05, seed=0),
    ReverseSigmoid(beta=0.5, gamma=0.2),
    PredictionPoisoning(eps=0.5),
]


@pytest.mark.parametrize("defense", ALL, ids=lambda d: d.name)
def test_common_contract(defense, target, x) -> None:
    assert DEFENSES[defense.name] is type(defense)
    assert defense.role == "postprocess" and defense.threat == "extraction"
    d = defense.apply(target)
    assert d.output == "probs"
    assert d.access <= Access.SCORES
    q0 = target.meter.queries
    out = d._counted_forward(x) if d.access < Access.SCORES else d.scores(x)
    assert target.meter.queries - q0 == len(x)  # metered through the shared meter
    assert out.shape == (len(x), 5)
    assert bool((out >= 0).all())
    assert torch.allclose(
        out.sum(1), torch.ones(len(x)), atol=0.51 if defense.name == "rounding" else 1e-5
    )
    with pytest.raises(AccessError, match="gradient"):
        d.gradient(x[:2], lambda z: z.sum(1))
    desc = d.describe()
    assert desc["defense"]["name"] == defense.name


def test_rounding(target, x) -> None:
    out = Rounding(decimals=1).apply(target).scores(x)
    assert torch.allclose(out * 10, torch.round(out * 10), atol=1e-5)
    assert (out - _probs(target, x)).abs().max() <= 0.05 + 1e-6


def test_topk(target, x) -> None:
    p = _probs(target, x)
    out = TopK(k=2).apply(target).scores(x)
    assert int((out > 0).sum(1).max()) <= 2
    assert torch.equal(out.argmax(1), p.argmax(1))
    # kept scores keep their ratio
    top = p.topk(2, 1).values
    kept = out.topk(2, 1).values
    assert torch.allclose(kept[:, 0] / kept[:, 1], top[:, 0] / top[:, 1], rtol=1e-4)
    one = TopK(k=1).apply(target).scores(x)
    assert torch.equal(one, nn.functional.one_hot(p.argmax(1), 5).float())


def test_label_only(target, x) -> None:
    d = LabelOnlyOutput().apply(target)
    assert d.access == Access.LABELS
    with pytest.raises(AccessError, match="scores"):
        d.scores(x)
    assert torch.equal(d.labels(x), _probs(target, x).argmax(1))


def test_access_never_raised(target) -> None:
    d = TopK(k=1).apply(LabelsOnly(target))
    assert d.access == Access.LABELS


def test_gaussian_noise_seeded(target, x) -> None:
    a = GaussianOutputNoise(sigma=0.1, seed=3).apply(target).scores(x)
    b = GaussianOutputNoise(sigma=0.1, seed=3).apply(target).scores(x)
    c = GaussianOutputNoise(sigma=0.1, seed=4).apply(target).scores(x)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert (a - _probs(target, x)).abs().mean() > 0.01


def test_reverse_sigmoid(target, x) -> None:
    p = _probs(target, x)
    out = ReverseSigmoid(beta=0.8, gamma=0.5).apply(target).scores(x)
    assert (out - p).abs().max() > 0.01
    # the formula, recomputed independently for one row
    y = p[0].clamp(1e-6, 1 - 1e-6)
    r = 0.8 * (1 / (1 + (y / (1 - y)) ** -0.5) - 0.5)
    ref = (p[0] - r).clamp_min(0)
    assert torch.allclose(out[0], ref / ref.sum(), atol=1e-5)


def test_prediction_poisoning(target, x) -> None:
    p = _probs(target, x)
    out = PredictionPoisoning(eps=0.4).apply(target).scores(x)
    assert torch.equal(out.argmax(1), p.argmax(1))  # top-1 kept
    l1 = (out - p).abs().sum(1)
    assert float(l1.max()) <= 0.4 + 1e-5
    assert float(l1.mean()) > 0.1  # it does move the posterior
    # mass moves to the least likely class
    j = p.argmin(1)
    assert bool((out.gather(1, j[:, None]) >= p.gather(1, j[:, None]) - 1e-7).all())


@pytest.mark.parametrize(
    "defense",
    [
        Rounding(decimals=-1),
        TopK(k=0),
        GaussianOutputNoise(sigma=0.0),
        PredictionPoisoning(eps=3.0),
    ],
    ids=lambda d: d.name,
)
def test_bad_params(defense, target) -> None:
    with pytest.raises(ConfigError):
        defense.apply(target)


def test_randomized_output_noise_is_never_deterministic(digits_bundle) -> None:
    from advlab.defenses.output import GaussianOutputNoise, Rounding

    target = digits_bundle.target(device="cpu")
    for seed in (0, None):  # unseeded noise is just as random
        assert not GaussianOutputNoise(seed=seed).apply(target).deterministic
    assert Rounding().apply(target).deterministic

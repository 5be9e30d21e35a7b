"""Input-transformation defenses: values, scipy equivalence, honest gradients, BPDA."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import median_filter

from advlab.access import Access
from advlab.attacks.evasion import PGD
from advlab.defenses.transforms import (
    BitDepthReduction,
    GaussianNoiseInput,
    MedianSmoothing,
    TransformedTarget,
    bit_depth_reduce,
    median_filter2d,
)
from advlab.errors import ConfigError
from advlab.registry import get_defense
from advlab.targets import FunctionClassifier, TorchClassifier


@settings(max_examples=25, deadline=None)
@given(
    bits=st.integers(1, 8),
    seed=st.integers(0, 10_000),
    lo=st.sampled_from([0.0, -1.0]),
    hi=st.sampled_from([1.0, 2.5]),
)
def test_bit_depth_values_on_grid_and_in_bounds(bits: int, seed: int, lo: float, hi: float) -> None:
    g = torch.Generator().manual_seed(seed)
    x = lo + (hi - lo) * torch.rand(64, 3, generator=g)
    x[0, 0], x[0, 1] = lo, hi  # the bounds themselves
    out = bit_depth_reduce(x, bits, lo, hi)
    levels = 2**bits - 1
    assert float(out.min()) >= lo - 1e-6 and float(out.max()) <= hi + 1e-6
    k = (out - lo) / (hi - lo) * levels
    assert torch.allclose(k, k.round(), atol=1e-4), "values off the 2^bits grid"
    # nearest level: moves each value by at most half a level
    assert float((out - x).abs().max()) <= 0.5 * (hi - lo) / levels + 1e-5
    assert len(torch.unique(out)) <= levels + 1
    assert float(out[0, 0]) == pytest.approx(lo) and float(out[0, 1]) == pytest.approx(hi)


@pytest.mark.parametrize("kernel", [2, 3, 5])
def test_median_matches_scipy(kernel: int) -> None:
    rng = np.random.default_rng(kernel)
    img = rng.random((3, 2, 9, 11)).astype(np.float32)
    ours = median_filter2d(torch.from_numpy(img), kernel).numpy()
    ref = np.stack(
        [
            np.stack([median_filter(img[n, c], size=kernel, mode="reflect") for c in range(2)])
            for n in range(3)
        ]
    )
    np.testing.assert_allclose(ours, ref, atol=1e-7)  # every pixel, borders included
    # 3-D input (N, H, W) too
    ours3 = median_filter2d(torch.from_numpy(img[:, 0]), kernel).numpy()
    np.testing.assert_allclose(ours3, ref[:, 0], atol=1e-7)


def test_median_kernel_one_is_identity_and_removes_salt() -> None:
    x = torch.zeros(1, 1, 7, 7)
    assert torch.equal(median_filter2d(x, 1), x)
    x[0, 0, 3, 3] = 1.0  # one salt pixel
    assert float(median_filter2d(x, 3).abs().max()) == 0.0


def test_transformed_forward_equals_inner_on_transformed_input(
    std_target: TorchClassifier, test_xy: tuple[torch.Tensor, torch.Tensor]
) -> None:
    x = test_xy[0][:50]
    for defense, fn in [
        (BitDepthReduction(bits=2), lambda t: bit_depth_reduce(t, 2, 0.0, 1.0)),
        (MedianSmoothing(kernel=3), lambda t: median_filter2d(t, 3)),
    ]:
        wrapped = defense.apply(std_target)
        assert isinstance(wrapped, TransformedTarget)
        assert torch.allclose(wrapped.scores(x), std_target.scores(fn(x)), atol=1e-6)
        assert wrapped.access == Access.GRADIENTS
        assert wrapped.describe()["defense"]["name"] == defense.name


def test_true_gradient_through_bit_depth_is_zero_but_bpda_is_not(
    std_target: TorchClassifier, test_xy: tuple[torch.Tensor, torch.Tensor]
) -> None:
    x, y = test_xy[0][:64], test_xy[1][:64]
    true = BitDepthReduction(bits=3).apply(std_target)
    bpda = BitDepthReduction(bits=3, bpda=True).apply(std_target)
    g_true, logits = true.loss_gradient(x, y)
    g_bpda, _ = bpda.loss_gradient(x, y)
    assert float(g_true.abs().max()) == 0.0, "quantisation must mask the true gradient"
    assert bool((g_bpda.reshape(64, -1).abs().sum(1) > 0).all())
    # BPDA = the inner gradient at the quantised point (straight-through)
    g_inner, _ = std_target.loss_gradient(bit_depth_reduce(x, 3, 0.0, 1.0), y)
    assert torch.allclose(g_bpda, g_inner)
    assert torch.allclose(logits, std_target.scores(bit_depth_reduce(x, 3, 0.0, 1.0)), atol=1e-6)


def test_median_gradient_is_the_chain_rule(
    std_model: torch.nn.Module,
    std_target: TorchClassifier,
    test_xy: tuple[torch.Tensor, torch.Tensor],
) -> None:
    x, y = test_xy[0][:32], test_xy[1][:32]
    g, _ = MedianSmoothing(kernel=3).apply(std_target).loss_gradient(x, y)
    xg = x.clone().requires_grad_(True)
    F.cross_entropy(std_model(median_filter2d(xg, 3)), y, reduction="sum").backward()
    assert xg.grad is not None
    assert torch.allclose(g, xg.grad, atol=1e-6)
    assert float(g.abs().sum()) > 0


def test_pgd_with_bpda_breaks_bit_depth_reduction(
    std_target: TorchClassifier, test_xy: tuple[torch.Tensor, torch.Tensor]
) -> None:
    """The illusion: zero gradients make naive PGD fail; BPDA-adaptive PGD succeeds."""
    x, y = test_xy[0][:200], test_xy[1][:200]
    attack = PGD(norm="linf", eps=0.2, steps=20, seed=0)
    undefended = attack.run(std_target, x, y).robust_accuracy
    naive = attack.run(BitDepthReduction(bits=3).apply(std_target), x, y)
    adaptive = attack.run(BitDepthReduction(bits=3, bpda=True).apply(std_target), x, y)
    assert naive.clean_accuracy > 0.9
    assert undefended < 0.2
    assert naive.robust_accuracy > 0.8, "naive PGD should be fooled by the masked gradient"
    assert adaptive.robust_accuracy < 0.2, "BPDA PGD should break bit-depth reduction"


def test_gaussian_noise_is_seeded_and_random(std_target: TorchClassifier) -> None:
    x = torch.full((4, 1, 8, 8), 0.5)
    a = GaussianNoiseInput(sigma=0.3, seed=1).apply(std_target)
    b = GaussianNoiseInput(sigma=0.3, seed=1).apply(std_target)
    s1, s2 = a.scores(x), a.scores(x)
    assert torch.equal(s1, b.scores(x)), "same seed, same first draw"
    assert not torch.equal(s1, s2), "fresh noise on every call"
    assert torch.equal(
        GaussianNoiseInput(sigma=0.0).apply(std_target).scores(x), std_target.scores(x)
    )


def test_validation_and_registry(std_target: TorchClassifier) -> None:
    with pytest.raises(ConfigError, match="bits"):
        BitDepthReduction(bits=0).apply(std_target)
    with pytest.raises(ConfigError, match="kernel"):
        MedianSmoothing(kernel=0).apply(std_target)
    tab = FunctionClassifier(lambda a: np.ones((len(a), 2)) / 2, input_shape=(5,), num_classes=2)
    with pytest.raises(ConfigError, match="image"):
        MedianSmoothing().apply(tab)
    for name, cls in [
        ("bit_depth", BitDepthReduction),
        ("median_smoothing", MedianSmoothing),
        ("gaussian_noise", GaussianNoiseInput),
    ]:
        assert get_defense(name) is cls
        assert cls.role == "preprocess" and cls.threat == "evasion" and cls.paper and cls.summary
    d = BitDepthReduction(bits=5, bpda=True)
    assert d.get_params() == {"bits": 5, "bpda": True}
    assert d.clone(bits=2).get_params() == {"bits": 2, "bpda": True}

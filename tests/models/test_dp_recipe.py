"""The DP-SGD recipe: data-independent ScatterNet features, exact clipped gradients, the
accountant's epsilon within the target, and a model that learns something at epsilon 3."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from advlab.data import load_dataset
from advlab.errors import ConfigError
from advlab.models.dp_recipe import (
    EPOCH_RULE,
    MAX_BATCH,
    STEPS_WANTED,
    DPRecipe,
    clipped_gradient_sum,
    featurize,
    noise_for,
    train_dp_recipe,
)
from advlab.models.scatternet import ScatterNet, scatter_features

pytest.importorskip("opacus")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=3)


def test_scatternet_shapes_and_no_parameters():
    net = ScatterNet((12, 10), J=2, L=4)
    out = net(torch.rand(3, 2, 12, 10))
    # K = 1 + J*L + L*L*J*(J-1)/2 = 1 + 8 + 16 = 25 channels per input channel
    assert out.shape == (3, 50, 3, 3) == (3, *net.output_shape(2))
    assert list(net.parameters()) == []
    assert torch.isfinite(out).all()


def test_scatter_features_are_data_independent(digits):
    x = digits.x_train[:40]
    alone = scatter_features(x[:5])
    in_batch = scatter_features(np.concatenate([x[:5], digits.x_test[:30]]), batch_size=7)
    np.testing.assert_allclose(alone, in_batch[:5], rtol=1e-5, atol=1e-5)
    # building the transform twice (any data in between) gives the same filters
    a, b = ScatterNet((8, 8)), ScatterNet((8, 8))
    for name, buf in a.named_buffers():
        assert torch.equal(buf, dict(b.named_buffers())[name])


def test_scatter_features_are_normalised_per_group_and_informative(digits):
    f = scatter_features(digits.x_train[:50])
    assert f.shape == (50, 81 * 2 * 2)
    # the wavelets have zero mean: a constant image has (near) zero first-order energy
    net = ScatterNet((8, 8))
    flat = net(torch.full((1, 1, 8, 8), 0.7))
    assert flat[0, 1:].abs().max() < 1e-3 * flat[0, 0].abs().max()
    # two different digits give different features
    assert np.abs(f[0] - f[1]).max() > 0.1


def test_clipped_gradient_sum_matches_autograd():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 5, generator=gen), torch.tensor([0, 1, 2, 0, 1, 2])
    w, b = torch.randn(3, 5, generator=gen), torch.randn(3, generator=gen)
    clip = 0.5
    want_w, want_b = torch.zeros_like(w), torch.zeros_like(b)
    for i in range(len(x)):
        wi, bi = w.clone().requires_grad_(), b.clone().requires_grad_()
        loss = torch.nn.functional.cross_entropy((x[i : i + 1] @ wi.T + bi), y[i : i + 1])
        gw, gb = torch.autograd.grad(loss, (wi, bi))
        norm = torch.sqrt(gw.pow(2).sum() + gb.pow(2).sum())
        factor = min(1.0, clip / float(norm))
        want_w += factor * gw
        want_b += factor * gb
    got_w, got_b = clipped_gradient_sum(w, b, x, y, clip)
    torch.testing.assert_close(got_w, want_w, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got_b, want_b, rtol=1e-4, atol=1e-5)


def test_default_rule_depends_on_n_only_through_the_stated_formulas():
    small, large = DPRecipe(1.0).resolved(300), DPRecipe(1.0).resolved(60_000)
    assert small.batch_size == 300 and large.batch_size == MAX_BATCH
    assert small.delta is not None and small.delta <= 1 / (10 * 300)
    assert large.delta is not None and large.delta <= 1 / (10 * 60_000)
    assert small.epochs is not None and large.epochs is not None
    # about STEPS_WANTED steps, within the epoch range: more epochs when batches are full
    for r, n in ((small, 300), (large, 60_000)):
        assert EPOCH_RULE[0] <= r.epochs <= EPOCH_RULE[1]
        steps = r.epochs * n / r.batch_size
        assert steps >= STEPS_WANTED or r.epochs == EPOCH_RULE[1]
    assert small.epochs >= large.epochs
    with pytest.raises(ConfigError):
        DPRecipe(0.0).resolved(100)
    with pytest.raises(ConfigError):
        DPRecipe(1.0, batch_size=500).resolved(100)


def test_more_privacy_needs_more_noise():
    r1, r3 = DPRecipe(1.0).resolved(1000), DPRecipe(3.0).resolved(1000)
    s1, steps1 = noise_for(r1, 1000)
    s3, steps3 = noise_for(r3, 1000)
    assert steps1 == steps3 and s1 > s3 > 0
    assert noise_for(DPRecipe(math.inf).resolved(1000), 1000)[0] == 0.0


def test_recipe_learns_within_the_budget(digits):
    x, y = digits.x_train[:400], digits.y_train[:400]
    res = train_dp_recipe(x, y, DPRecipe(3.0, seed=1), num_classes=10)
    assert res.noise_multiplier > 0
    assert res.epsilon <= 3.0 * 1.01  # the accountant's epsilon within its tolerance
    with torch.no_grad():
        pred = res.model(torch.as_tensor(digits.x_test)).argmax(1).numpy()
    acc = float((pred == digits.y_test).mean())
    majority = float(np.bincount(digits.y_test).max() / len(digits.y_test))
    assert acc > 2 * majority, (acc, majority)
    # the deployed model computes the same features as featurize()
    feats = torch.as_tensor(featurize(digits.x_test[:8], res.recipe))
    with torch.no_grad():
        torch.testing.assert_close(
            res.model(torch.as_tensor(digits.x_test[:8])), res.model.linear(feats)
        )


def test_seeded_runs_repeat_and_infinite_epsilon_adds_no_noise(digits):
    x, y = digits.x_train[:120], digits.y_train[:120]
    feats = featurize(x, DPRecipe(1.0))
    a = train_dp_recipe(x, y, DPRecipe(1.0, epochs=5), num_classes=10, feats=feats)
    b = train_dp_recipe(x, y, DPRecipe(1.0, epochs=5), num_classes=10, feats=feats)
    assert torch.equal(a.model.linear.weight, b.model.linear.weight)
    free = train_dp_recipe(x, y, DPRecipe(math.inf, epochs=5), num_classes=10, feats=feats)
    assert free.noise_multiplier == 0.0 and math.isinf(free.epsilon)

"""Randomized smoothing: Clopper-Pearson bound, certification, abstention, smoothed target."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest
import torch
from scipy.stats import binom

from advlab.access import Access
from advlab.defenses.smoothing import (
    CertificationResult,
    RandomizedSmoothing,
    clopper_pearson_lower,
    train_with_noise,
)
from advlab.errors import AccessError, ConfigError
from advlab.models import SmallCNN, TrainConfig
from advlab.registry import get_defense
from advlab.results import Result
from advlab.targets import FunctionClassifier, TorchClassifier

XY = tuple[torch.Tensor, torch.Tensor]


def constant(label: int, num_classes: int = 4) -> FunctionClassifier:
    return FunctionClassifier(
        lambda a: np.full(len(a), label),
        input_shape=(2,),
        num_classes=num_classes,
        returns="labels",
    )


def coin() -> FunctionClassifier:
    """Label 1 when the first feature exceeds 0.5: at x_0 = 0.5 the noisy vote is 50/50."""
    return FunctionClassifier(
        lambda a: (a[:, 0] > 0.5).astype(int),
        input_shape=(2,),
        num_classes=2,
        returns="labels",
        bounds=(-5.0, 5.0),
    )


def test_clopper_pearson_against_hand_computation() -> None:
    # k = n: P(X >= n | p) = p^n = alpha  =>  p = alpha^(1/n)
    assert clopper_pearson_lower(100, 100, 0.001) == pytest.approx(0.001 ** (1 / 100), rel=1e-9)
    assert clopper_pearson_lower(100, 100, 0.001) == pytest.approx(0.933254, abs=1e-6)
    # k = 1: P(X >= 1 | p) = 1 - (1 - p)^n = alpha  =>  p = 1 - (1 - alpha)^(1/n)
    assert clopper_pearson_lower(1, 50, 0.05) == pytest.approx(1 - 0.95 ** (1 / 50), rel=1e-9)
    assert clopper_pearson_lower(0, 10, 0.05) == 0.0
    # the definition in general: the p at which seeing >= k successes has probability alpha
    for k in (5, 50, 99):
        p = clopper_pearson_lower(k, 100, 0.01)
        assert binom.sf(k - 1, 100, p) == pytest.approx(0.01, rel=1e-6)
        assert p < k / 100


def test_constant_classifier_certifies_the_maximal_radius() -> None:
    rs = RandomizedSmoothing(sigma=0.5, n0=10, n=200, failure_probability=0.01, batch_size=128)
    x, y = np.full((3, 2), 0.5, dtype=np.float32), np.array([3, 3, 1])
    cert = rs.certify(constant(3), x, y)
    p = 0.01 ** (1 / 200)
    assert cert.prediction.tolist() == [3, 3, 3]
    assert torch.allclose(cert.p_lower, torch.full((3,), p, dtype=torch.float64))
    expected = 0.5 * NormalDist().inv_cdf(p)
    assert torch.allclose(cert.radius, torch.full((3,), expected, dtype=torch.float64))
    assert cert.correct.tolist() == [True, True, False]
    assert cert.certified_accuracy(0.0) == pytest.approx(2 / 3)
    assert cert.certified_accuracy(expected + 1e-6) == 0.0
    assert cert.queries == 3 * (10 + 200)  # every noisy sample is a counted query
    assert rs.predict(constant(3), x).tolist() == [3, 3, 3]


def test_coin_flip_abstains_with_radius_zero() -> None:
    rs = RandomizedSmoothing(sigma=0.25, n0=50, n=500, failure_probability=0.001, batch_size=256)
    x = np.full((4, 2), 0.5, dtype=np.float32)
    cert = rs.certify(coin(), x, np.array([0, 1, 0, 1]))
    assert cert.abstained.all()
    assert torch.equal(cert.prediction, torch.full((4,), -1))
    assert float(cert.radius.abs().max()) == 0.0
    assert bool((cert.p_lower < 0.5).all())
    assert cert.certified_accuracy(0.0) == 0.0
    assert rs.predict(coin(), x).tolist() == [-1, -1, -1, -1]
    # far from the boundary the vote is unanimous: the maximal radius for n samples
    far = np.array([[-2.0, 0.5], [3.0, 0.5]], dtype=np.float32)
    assert rs.predict(coin(), far).tolist() == [0, 1]
    c2 = rs.certify(coin(), far, np.array([0, 1]))
    r_max = 0.25 * NormalDist().inv_cdf(0.001 ** (1 / 500))
    assert c2.prediction.tolist() == [0, 1]
    assert torch.allclose(c2.radius, torch.full((2,), r_max, dtype=torch.float64))


def test_certificate_is_sound_for_a_linear_boundary() -> None:
    """x_0 = 0.25 lies at L2 distance 0.25 from the boundary x_0 = 0.5: the smoothed
    classifier's true radius is sigma * Phi^-1(Phi(1)) = 0.25, and the certificate is a
    (1 - alpha) lower bound on it."""
    rs = RandomizedSmoothing(sigma=0.25, n0=50, n=2000, failure_probability=0.001, batch_size=1000)
    x = np.tile(np.array([[0.25, 0.5]], dtype=np.float32), (5, 1))
    cert = rs.certify(coin(), x, np.zeros(5, dtype=int))
    assert cert.prediction.tolist() == [0] * 5
    assert bool((cert.radius <= 0.25).all()), cert.radius
    assert bool((cert.radius > 0.15).all()), cert.radius
    assert len(set(cert.radius.tolist())) > 1, "fresh noise per input"


def test_certify_noise_trained_cnn(noise_target: TorchClassifier, test_xy: XY) -> None:
    x, y = test_xy[0][:40], test_xy[1][:40]
    rs = RandomizedSmoothing(sigma=0.25, n0=20, n=200, failure_probability=0.001, batch_size=2000)
    cert = rs.certify(noise_target, x, y)
    assert bool((cert.radius >= 0).all())
    assert bool((cert.radius[cert.abstained] == 0).all())
    assert not bool((cert.correct & cert.abstained).any())
    radii = [0.0, 0.1, 0.25, 0.5, 0.75, 1.0]
    curve = cert.certified_accuracy_curve(radii)
    assert all(a >= b for a, b in zip(curve, curve[1:], strict=False)), curve
    assert curve[0] >= 0.7, curve
    assert curve[-1] < curve[0]
    # max certifiable radius with n = 200 samples: sigma * Phi^-1(alpha^(1/n))
    r_max = 0.25 * NormalDist().inv_cdf(0.001 ** (1 / 200))
    assert float(cert.radius.max()) <= r_max + 1e-9
    # deterministic under the seed
    assert torch.equal(rs.certify(noise_target, x, y).radius, cert.radius)


def test_noise_training_helps_under_noise(
    noise_target: TorchClassifier, std_target: TorchClassifier, test_xy: XY
) -> None:
    x, y = test_xy
    for sigma in (0.25, 0.5):
        g = torch.Generator().manual_seed(0)
        noisy = x + sigma * torch.randn(x.shape, generator=g)
        acc_noise = float((noise_target.labels(noisy) == y).float().mean())
        acc_std = float((std_target.labels(noisy) == y).float().mean())
        assert acc_noise > acc_std + 0.04, (sigma, acc_noise, acc_std)
    assert float((noise_target.labels(x) == y).float().mean()) > 0.85


def test_smoothed_target(noise_target: TorchClassifier, test_xy: XY) -> None:
    x, y = test_xy[0][:20], test_xy[1][:20]
    smoothed = RandomizedSmoothing(sigma=0.25, n=100, batch_size=1000).apply(noise_target)
    assert smoothed.access == Access.SCORES and smoothed.output == "probs"
    s = smoothed.scores(x)
    assert torch.allclose(s.sum(1), torch.ones(20))
    assert torch.allclose(s * 100, (s * 100).round(), atol=1e-4)  # vote frequencies
    labels = smoothed.labels(x)
    assert float((labels == y).float().mean()) >= 0.8
    with pytest.raises(AccessError):
        smoothed.loss_gradient(x, y)
    # a constant base classifier gives a unanimous vote
    const = RandomizedSmoothing(n=50).apply(constant(2))
    assert const.scores(torch.full((3, 2), 0.5))[:, 2].tolist() == [1.0, 1.0, 1.0]


def test_result_json_round_trip(noise_target: TorchClassifier, test_xy: XY) -> None:
    rs = RandomizedSmoothing(sigma=0.25, n0=10, n=100, batch_size=1000)
    cert = rs.certify(noise_target, test_xy[0][:10], test_xy[1][:10])
    back = Result.from_json(cert.to_json())
    assert isinstance(back, CertificationResult)
    assert torch.equal(back.prediction, cert.prediction)
    assert torch.allclose(back.radius, cert.radius)
    radii = [0.0, 0.25, 0.5]
    assert back.certified_accuracy_curve(radii) == cert.certified_accuracy_curve(radii)
    assert back.summary() == cert.summary()


def test_validation_and_registry() -> None:
    x, y = np.zeros((1, 2), dtype=np.float32), np.zeros(1)
    for bad in ({"sigma": 0.0}, {"failure_probability": 1.0}, {"n": 0}, {"n0": 1.5}):
        with pytest.raises(ConfigError):
            RandomizedSmoothing(**bad).certify(constant(0), x, y)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="adversarial"):
        train_with_noise(
            SmallCNN(), np.zeros((2, 1, 8, 8)), np.zeros(2), 0.25, TrainConfig(adversarial="pgd")
        )
    cls = get_defense("randomized_smoothing")
    assert cls is RandomizedSmoothing and cls.threat == "evasion" and "Cohen" in cls.paper

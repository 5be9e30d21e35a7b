"""A CUDA proxy on a CPU-only machine: no implicit-device tensors in attack and defense paths.

Code that runs on CUDA must create every tensor it mixes with the target's tensors on the
target's device. Here the default device is switched to ``meta`` while the target and the
inputs stay on the CPU: a tensor created without naming its device lands on ``meta`` and the
first operation that mixes it with a CPU tensor raises. (Tensors deliberately built on the
CPU and moved, such as seeded CPU noise, say ``device="cpu"`` or use a generator's device.)
This does not replace a run on a GPU; it catches the most common CUDA bug without one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from advlab.attacks.evasion import FGSM, PGD
from advlab.defenses import (
    BitDepthReduction,
    FeatureSqueezing,
    GaussianNoiseInput,
    MedianSmoothing,
    RandomizedSmoothing,
)
from advlab.registry import all_attacks
from advlab.testing.api import instance
from advlab.testing.evasion import configured

ATTACKS = {  # attacks on files (modality:binary) take no tensors
    n: c for n, c in all_attacks("evasion").items() if "modality:binary" not in c.tags
}


@contextmanager
def default_device_meta() -> Iterator[None]:
    torch.set_default_device("meta")
    try:
        yield
    finally:
        torch.set_default_device("cpu")


def _xy(small_batch):
    x, y = small_batch
    return torch.as_tensor(x[:10]), torch.as_tensor(y[:10])


def test_the_proxy_catches_an_implicit_device_tensor(small_batch):
    x, _ = _xy(small_batch)
    with default_device_meta(), pytest.raises(RuntimeError, match="meta"):
        _ = x + torch.zeros(x.shape)  # the bug this module looks for


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_creates_no_implicit_device_tensors(name, digits_bundle, small_batch):
    x, y = _xy(small_batch)
    target = digits_bundle.target(device="cpu")
    attack = configured(instance(ATTACKS[name]))
    reference = attack.run(digits_bundle.target(device="cpu"), x, y)
    with default_device_meta():
        res = attack.run(target, x, y)
    assert res.x_adv.device.type == "cpu"
    np.testing.assert_array_equal(np.asarray(res.success), np.asarray(reference.success))


@pytest.mark.parametrize(
    "defense",
    [
        BitDepthReduction(bits=3, bpda=True),
        MedianSmoothing(kernel=3),
        GaussianNoiseInput(sigma=0.05),
    ],
    ids=lambda d: d.name,
)
def test_input_transforms_create_no_implicit_device_tensors(defense, digits_bundle, small_batch):
    x, y = _xy(small_batch)
    defended = defense.apply(digits_bundle.target(device="cpu"))
    with default_device_meta():
        res = PGD(eps=0.1, steps=3).run(defended, x, y)
    assert res.x_adv.device.type == "cpu"


def test_smoothing_and_squeezing_create_no_implicit_device_tensors(digits_bundle, small_batch):
    x, y = _xy(small_batch)
    target = digits_bundle.target(device="cpu")
    detector = FeatureSqueezing(squeezers=("bits:3", "median:2"), fpr=0.1).fit(target, x)
    x_adv = FGSM(eps=0.1).run(target, x, y).x_adv
    with default_device_meta():
        cert = RandomizedSmoothing(sigma=0.25, n0=8, n=32).certify(target, x, y)
        flags = detector.detect(x_adv)
        report = detector.evaluate(x, x_adv, y)
    assert len(cert.radius) == len(x) and len(flags) == len(x)
    assert 0.0 <= report.detection_rate <= 1.0

"""PGD specifics: the exact cycle check and its guard for randomized targets."""

from __future__ import annotations

import numpy as np
import torch

from advlab.attacks.evasion import PGD
from advlab.defenses import GaussianNoiseInput


def _x_y(digits, n=60):
    return digits.x_test[:n].astype(np.float32), digits.y_test[:n]


def test_cycle_check_gives_identical_results_with_fewer_passes(digits_bundle, digits):
    x, y = _x_y(digits)
    kw = dict(eps=0.05, steps=40, step_size=0.01, random_start=False, batch_size=len(x))
    on = PGD(**kw).run(digits_bundle.target(device="cpu"), x, y)
    off = PGD(cycle_check=False, **kw).run(digits_bundle.target(device="cpu"), x, y)
    assert on.robust_accuracy > 0  # some points survive, so there are iterates to cycle
    np.testing.assert_array_equal(np.asarray(on.x_adv), np.asarray(off.x_adv))
    np.testing.assert_array_equal(on.success, off.success)
    assert on.gradient_calls < off.gradient_calls


def test_cycle_check_with_random_start_and_odd_periods(digits_bundle, digits):
    """Different step counts change which element of a 2-cycle the run ends on."""
    x, y = _x_y(digits)
    for steps in (17, 18):
        kw = dict(eps=0.05, steps=steps, step_size=0.02, random_start=True, seed=3)
        on = PGD(**kw).run(digits_bundle.target(device="cpu"), x, y)
        off = PGD(cycle_check=False, **kw).run(digits_bundle.target(device="cpu"), x, y)
        np.testing.assert_array_equal(np.asarray(on.x_adv), np.asarray(off.x_adv))
        assert on.gradient_calls <= off.gradient_calls


def test_randomized_target_disables_the_cycle_check(digits_bundle, digits):
    x, y = _x_y(digits, 30)
    target = digits_bundle.target(device="cpu")
    noisy = GaussianNoiseInput(sigma=0.0).apply(target)  # zero noise but declared randomized
    assert target.deterministic and not noisy.deterministic
    kw = dict(eps=0.05, steps=30, step_size=0.01, random_start=False, batch_size=len(x))
    on_noisy = PGD(**kw).run(noisy, x, y)
    on_plain = PGD(**kw).run(digits_bundle.target(device="cpu"), x, y)
    np.testing.assert_array_equal(on_noisy.success, on_plain.success)
    # Same iterates, but the randomized target pays every step for every robust point.
    assert on_noisy.gradient_calls > on_plain.gradient_calls
    robust = int((~np.asarray(on_noisy.success)).sum())
    assert on_noisy.gradient_calls >= robust * 30


def test_period_two_is_detected():
    """A model whose loss peaks at 0.5 makes PGD overshoot back and forth: a pure 2-cycle.
    The point leaves after two steps and ends on the element the full run ends on."""

    class Peak(torch.nn.Module):
        def forward(self, x):  # class 1 logit |x - 0.5| (summed) >= 0 > class 0 logit -10
            z = (x.flatten(1) - 0.5).abs().sum(1, keepdim=True)
            return torch.cat([torch.full_like(z, -10.0), z], 1)

    from advlab.targets import TorchClassifier

    target = TorchClassifier(Peak(), bounds=(0.0, 1.0), input_shape=(4,), num_classes=2)
    x = torch.full((1, 4), 0.5625)
    y = torch.tensor([1])
    for steps, end in ((9, 0.4375), (10, 0.5625)):
        ends, calls = [], []
        for check in (True, False):
            attack = PGD(
                eps=0.25, steps=steps, step_size=0.125, random_start=False, cycle_check=check
            )
            q0 = target.meter.gradient_calls
            gen = torch.Generator().manual_seed(0)
            # run() reverts points that stay robust to x, so look at the raw last iterate.
            ends.append(attack._perturb(target, x, y, eps=0.25, targeted=False, generator=gen))
            calls.append(target.meter.gradient_calls - q0)
        torch.testing.assert_close(ends[0], ends[1], rtol=0, atol=0)
        torch.testing.assert_close(ends[0], torch.full((1, 4), end), rtol=0, atol=0)
        assert calls == [2, steps]

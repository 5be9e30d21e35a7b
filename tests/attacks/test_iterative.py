"""The shared gradient-iterative core: active set, early stop, counting, cycle check, and the
hooks MI-FGSM and NI-FGSM use (momentum, look-ahead)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advlab.attacks.evasion import PGD
from advlab.attacks.evasion.iterative import Goal, StepState
from advlab.attacks.evasion.mifgsm import MIFGSM
from advlab.attacks.evasion.nifgsm import NIFGSM
from advlab.targets import TorchClassifier


def _x_y(digits, n=60):
    return digits.x_test[:n].astype(np.float32), digits.y_test[:n]


class _RecordingPGD(PGD):
    """PGD that records which batch rows each gradient evaluation covered."""

    def _lookahead(self, x, state):
        self.seen.append(state.idx.clone())
        return super()._lookahead(x, state)


@pytest.mark.parametrize("cycle_check", [False, True])
def test_active_set_early_stop_and_gradient_count(digits_bundle, digits, cycle_check):
    x, y = _x_y(digits)
    target = digits_bundle.target(device="cpu")
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    attack = _RecordingPGD(eps=0.1, steps=20, step_size=0.01, cycle_check=cycle_check)
    attack.seen = []
    out = attack._iterate(
        target, xt, Goal.of("ce", yt, False), eps=0.1, generator=torch.Generator().manual_seed(0)
    )
    assert 0 < int(out.adversarial.sum()) < len(x)  # some points stop early, some run on
    # every gradient is counted once per point, and the meter charged exactly their sum
    per_point = torch.zeros(len(x), dtype=torch.long)
    for idx in attack.seen:
        per_point[idx] += 1
    torch.testing.assert_close(out.gradient_calls, per_point, rtol=0, atol=0)
    assert target.meter.gradient_calls == int(out.gradient_calls.sum())
    # a point broken at evaluation k is never evaluated (nor updated) again ...
    for i in out.adversarial.nonzero().flatten().tolist():
        last = max(k for k, idx in enumerate(attack.seen) if i in idx.tolist())
        assert last == int(out.gradient_calls[i]) - 1
        assert all(i not in idx.tolist() for idx in attack.seen[last + 1 :])
    # ... and keeps the adversarial point it was found at, inside the threat model
    with torch.no_grad():
        pred = target.logits(out.x).argmax(1)
    adv = out.adversarial
    assert bool((pred[adv] != yt[adv]).all())
    assert float((out.x - xt).abs().max()) <= 0.1 + 1e-6
    if not cycle_check:  # the robust points ran every step
        assert bool((out.gradient_calls[~adv] == 20).all())


class _Saturated(torch.nn.Module):
    """Class 0 always wins (its logit 10 > sum(x) <= 4); CE ascent pushes every x up."""

    def forward(self, x):
        s = x.flatten(1).sum(1, keepdim=True)
        return torch.cat([torch.full_like(s, 10.0), s], 1)


def _saturated_target():
    return TorchClassifier(_Saturated(), bounds=(0.0, 1.0), input_shape=(4,), num_classes=2)


def test_cycle_check_stops_a_point_whose_iterate_repeats():
    """From 0.5 with steps of 0.125 in a ball of 0.25 the iterates are 0.625, 0.75, 0.75: the
    third equals the second, so the point stops after 3 gradients instead of 10."""
    x, y = torch.full((1, 4), 0.5), torch.tensor([0])
    ends, calls = [], []
    for check in (True, False):
        target = _saturated_target()
        attack = PGD(eps=0.25, steps=10, step_size=0.125, random_start=False, cycle_check=check)
        out = attack._iterate(
            target, x, Goal.of("ce", y, False), eps=0.25, generator=torch.Generator()
        )
        ends.append(out.x)
        calls.append((int(out.gradient_calls.sum()), target.meter.gradient_calls))
    torch.testing.assert_close(ends[0], ends[1], rtol=0, atol=0)
    torch.testing.assert_close(ends[0], torch.full((1, 4), 0.75), rtol=0, atol=0)
    assert calls == [(3, 3), (10, 10)]


def test_momentum_disables_the_cycle_check():
    """With momentum an iterate repeating does not mean the sequence does: MI-FGSM (decay
    > 0) evaluates every step; with decay 0 it is memoryless and stops like PGD."""
    x, y = torch.full((1, 4), 0.5), torch.tensor([0])
    for decay, expected in ((1.0, 10), (0.0, 3)):
        target = _saturated_target()
        attack = MIFGSM(eps=0.25, steps=10, step_size=0.125, decay=decay)
        out = attack._iterate(
            target, x, Goal.of("ce", y, False), eps=0.25, generator=torch.Generator()
        )
        torch.testing.assert_close(out.x, torch.full((1, 4), 0.75), rtol=0, atol=0)
        assert target.meter.gradient_calls == expected


def _state(attack, x, rows, step_size=0.1, eps=0.05):
    def proj(p):
        return (x + (p - x).clamp(-eps, eps)).clamp(0, 1)

    return StepState(0, torch.arange(len(x)), x, eps, step_size, rows, proj)


def test_momentum_accumulates_as_in_the_paper():
    """g_1 = grad_1 / mean|grad_1|, g_2 = decay * g_1 + grad_2 / mean|grad_2| (Dong et al.
    2018, eq. 6 with the mean-absolute normalisation), step along sign(g)."""
    attack = MIFGSM(eps=0.05, steps=10, decay=1.0)
    x = torch.full((1, 4), 0.5)
    rows = attack._init_state(x, x, 0.05)
    state = _state(attack, x, rows)
    g1 = torch.tensor([[3.0, 3.0, -3.0, 0.0]])  # mean |g1| = 2.25
    d1 = attack._direction(g1, state)
    torch.testing.assert_close(rows["momentum"], torch.tensor([[4 / 3, 4 / 3, -4 / 3, 0.0]]))
    torch.testing.assert_close(d1, torch.tensor([[1.0, 1.0, -1.0, 0.0]]))
    g2 = torch.tensor([[-1.0, 2.0, 1.0, 0.0]])  # mean |g2| = 1
    d2 = attack._direction(g2, state)
    torch.testing.assert_close(rows["momentum"], torch.tensor([[1 / 3, 10 / 3, -1 / 3, 0.0]]))
    # the momentum overrides the new gradient's sign on the first and third coordinates
    torch.testing.assert_close(d2, torch.tensor([[1.0, 1.0, -1.0, 0.0]]))
    assert not torch.equal(d2, g2.sign())
    half = MIFGSM(eps=0.05, steps=10, decay=0.5)
    rows = half._init_state(x, x, 0.05)
    half._direction(g1, _state(half, x, rows))
    half._direction(g2, _state(half, x, rows))
    torch.testing.assert_close(rows["momentum"], torch.tensor([[-1 / 3, 8 / 3, 1 / 3, 0.0]]))


def test_nesterov_lookahead_point():
    """NI-FGSM takes the gradient at x + step_size * decay * g, projected into the ball."""
    x = torch.full((1, 4), 0.5)
    attack = NIFGSM(eps=0.05, steps=10, decay=0.5)
    rows = {"momentum": torch.tensor([[0.4, -0.4, 2.0, 0.0]])}
    ahead = attack._lookahead(x, _state(attack, x, rows, step_size=0.1))
    # 0.5 + 0.1 * 0.5 * [0.4, -0.4, 2, 0] = [0.52, 0.48, 0.6, 0.5]; 0.6 projects to 0.55
    torch.testing.assert_close(ahead, torch.tensor([[0.52, 0.48, 0.55, 0.5]]))
    plain = NIFGSM(eps=0.05, steps=10, decay=0.0)
    assert plain._lookahead(x, _state(plain, x, rows)) is x


@pytest.mark.parametrize("cls", [MIFGSM, NIFGSM])
@pytest.mark.parametrize("targeted", [False, True])
def test_decay_zero_is_iterative_fgsm(digits_bundle, digits, cls, targeted):
    """Without momentum MI-FGSM and NI-FGSM are PGD without random start, bit for bit."""
    x, y = _x_y(digits)
    if targeted:
        y = (y + 1) % 10
    kw = dict(eps=0.1, steps=15, step_size=0.02)
    ours = cls(decay=0.0, **kw).run(digits_bundle.target(device="cpu"), x, y, targeted=targeted)
    pgd = PGD(random_start=False, **kw).run(
        digits_bundle.target(device="cpu"), x, y, targeted=targeted
    )
    np.testing.assert_array_equal(np.asarray(ours.x_adv), np.asarray(pgd.x_adv))
    np.testing.assert_array_equal(ours.success, pgd.success)
    assert ours.gradient_calls == pgd.gradient_calls
    assert 0 < int(ours.success.sum()) < len(x)


@pytest.mark.parametrize("cls", [MIFGSM, NIFGSM])
def test_momentum_changes_the_iterates(digits_bundle, digits, cls):
    x, y = _x_y(digits)
    kw = dict(eps=0.1, steps=15, step_size=0.02)
    a = cls(decay=1.0, **kw).run(digits_bundle.target(device="cpu"), x, y)
    b = cls(decay=0.0, **kw).run(digits_bundle.target(device="cpu"), x, y)
    assert not np.array_equal(np.asarray(a.x_adv), np.asarray(b.x_adv))

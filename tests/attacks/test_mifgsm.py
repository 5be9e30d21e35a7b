"""MI-FGSM and NI-FGSM: defaults, efficacy on the tiny model, and torchattacks cross-checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchattacks  # dev extra; a missing peer is a failure, not a skip

from advlab.attacks.evasion.mifgsm import MIFGSM
from advlab.attacks.evasion.nifgsm import NIFGSM
from advlab.errors import ConfigError
from advlab.registry import get_attack
from advlab.vocab import DEFAULT_EPS

N = 120


def _acc(model, x, y):
    with torch.no_grad():
        return float((model(torch.as_tensor(x)).argmax(1).numpy() == y).mean())


def test_registered_with_the_paper_defaults():
    assert get_attack("mifgsm") is MIFGSM and get_attack("nifgsm") is NIFGSM
    for cls in (MIFGSM, NIFGSM):
        a = cls()
        assert (a.eps, a.decay, a.steps, a.step_size) == (DEFAULT_EPS, 1.0, 10, None)
        assert a._step_size(0.1) == pytest.approx(0.01)  # eps / steps
    with pytest.raises(ConfigError):
        MIFGSM(decay=-0.5).check_params()
    with pytest.raises(ConfigError):
        NIFGSM(steps=0).check_params()


@pytest.mark.parametrize("cls", [MIFGSM, NIFGSM])
def test_large_eps_breaks_most_points(digits_bundle, digits, cls):
    """Efficacy floor: at eps 0.3 (a third of the input range) an undefended tiny model keeps
    less than half of its accuracy."""
    x, y = digits.x_test[:60].astype(np.float32), digits.y_test[:60]
    res = cls(eps=0.3, steps=10).run(digits_bundle.target(device="cpu"), x, y)
    clean = float(res.clean_correct.float().mean())
    assert res.robust_accuracy < 0.5 * clean


@pytest.mark.parametrize(
    ("ours", "peer"), [(MIFGSM, torchattacks.MIFGSM), (NIFGSM, torchattacks.NIFGSM)]
)
def test_matches_torchattacks(digits_bundle, digits, ours, peer):
    """Same model, points and budget (eps 0.1, 10 steps of 0.01, decay 1)."""
    model = digits_bundle.model.cpu().eval()
    x, y = digits.x_test[:N].astype(np.float32), digits.y_test[:N]
    res = ours(eps=0.1, steps=10, step_size=0.01, decay=1.0).run(
        digits_bundle.target(device="cpu"), x, y
    )
    theirs = peer(model, eps=0.1, alpha=0.01, steps=10, decay=1.0)(
        torch.as_tensor(x), torch.as_tensor(y)
    )
    ta_acc = _acc(model, theirs.detach().numpy(), y)
    assert ta_acc < _acc(model, x, y)  # the peer attack does something on these points
    assert abs(res.robust_accuracy - ta_acc) <= 0.03
    # best iterate: never weaker than the last-iterate peer beyond the tolerance
    assert res.robust_accuracy <= ta_acc + 0.02

"""Conformance checks for targets: what every attack assumes of a model adapter.

``check_target(target, x)`` runs them all and raises :class:`AssertionError` naming the first
that fails; a new adapter (a Keras or Hugging Face model, a user's own ``Target``) should
pass it on a handful of real inputs:

* ``predict`` returns one integer label per input; ``scores`` one finite row of
  ``num_classes`` per input;
* the same inputs give the same outputs (``deterministic`` targets), batching does not
  change them, and labels are the arg-max of the scores;
* every point sent forward is counted by the query meter, and a budget is never overspent;
* a white-box target's ``gradient`` has the input's shape, is finite and agrees with a
  finite difference of its objective in a random direction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from advlab.access import Access


def _t(target: Any, x: Any) -> torch.Tensor:
    return target.check_inputs(np.asarray(x, dtype=np.float32))  # type: ignore[no-any-return]


def check_outputs(target: Any, x: Any) -> None:
    xt = _t(target, x)
    labels = target.predict(x)
    assert labels.shape == (len(xt),), f"predict gave shape {labels.shape}"
    assert np.issubdtype(labels.dtype, np.integer), f"predict gave {labels.dtype}"
    if target.access >= Access.SCORES:
        s = target.scores(xt)
        assert tuple(s.shape) == (len(xt), target.num_classes), f"scores shape {tuple(s.shape)}"
        assert bool(torch.isfinite(s).all()), "scores are not finite"
        np.testing.assert_array_equal(s.argmax(1).cpu().numpy(), labels)


def check_deterministic_and_batching(target: Any, x: Any) -> None:
    if target.access < Access.SCORES or not target.deterministic:
        return
    xt = _t(target, x)
    a = target.scores(xt)
    b = target.scores(xt)
    torch.testing.assert_close(a, b, msg="the same inputs gave different scores")
    half = max(len(xt) // 2, 1)
    parts = torch.cat([target.scores(xt[:half]), target.scores(xt[half:])])
    torch.testing.assert_close(parts, a, atol=1e-4, rtol=1e-4, msg="batching changed scores")


def check_counting(target: Any, x: Any) -> None:
    xt = _t(target, x)
    before = target.meter.queries
    target.labels(xt)
    assert target.meter.queries == before + len(xt), "forward points were not all counted"


def check_gradient(target: Any, x: Any) -> None:
    if target.access < Access.GRADIENTS:
        return
    xt = _t(target, x)[:4].double().float()
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(target.num_classes, generator=gen).to(target.device)

    def objective(z: torch.Tensor) -> torch.Tensor:
        return (z * w.to(z.dtype)).sum(dim=1)

    grad, _ = target.gradient(xt, objective)
    assert grad.shape == xt.shape, f"gradient shape {tuple(grad.shape)} != {tuple(xt.shape)}"
    assert bool(torch.isfinite(grad).all()), "gradient is not finite"
    d = torch.randn(xt.shape, generator=gen).to(xt.device)
    d = d / d.flatten(1).norm(dim=1).view(-1, *([1] * (xt.dim() - 1)))
    h = 1e-3
    lo, hi = target.bounds
    inside = (xt - h >= lo) & (xt + h <= hi)
    d = d * inside
    up = objective(target.logits(xt + h * d))
    down = objective(target.logits(xt - h * d))
    numeric = (up - down) / (2 * h)
    analytic = (grad * d).flatten(1).sum(1)
    scale = numeric.abs().max().clamp(min=1e-3)
    err = float(((numeric - analytic).abs() / scale).median())  # robust to a ReLU kink
    assert err < 0.05, f"gradient disagrees with a finite difference (relative error {err:.3f})"


TARGET_CHECKS = (check_outputs, check_deterministic_and_batching, check_counting, check_gradient)


def check_target(target: Any, x: Any) -> None:
    """Run every target check on ``target`` with inputs ``x`` (a few real points)."""
    for check in TARGET_CHECKS:
        check(target, x)

"""HopSkipJump on a float64 target (scikit-learn answers in float64)."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression

from advlab.attacks.evasion.hopskipjump import HopSkipJump
from advlab.data import load_dataset
from advlab.targets import LabelsOnly, SklearnClassifier


def test_hopskipjump_runs_on_a_float64_target() -> None:
    d = load_dataset("wine")
    target = SklearnClassifier(LogisticRegression(max_iter=500).fit(d.x_train, d.y_train))
    x, y = d.x_test[:8], d.y_test[:8]
    r = HopSkipJump(norm="l2", max_queries=150, steps=5).run(LabelsOnly(target), x, y)
    assert r.x_adv.dtype == target.dtype
    assert r.success.any()  # it ran to the end and found adversarial points
    for norm in ("l2", "linf"):
        r = HopSkipJump(norm=norm, eps=0.5, max_queries=150, steps=5).run(target, x, y)
        assert r.norms.max() <= 0.5 + 1e-6

"""APGD on a float64 target (scikit-learn answers in float64)."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression

from advlab.attacks.evasion import APGD
from advlab.data import load_dataset
from advlab.targets import SklearnClassifier


def test_apgd_runs_on_a_float64_target() -> None:
    d = load_dataset("wine")
    target = SklearnClassifier(LogisticRegression(max_iter=500).fit(d.x_train, d.y_train))
    clean = (target.predict(d.x_test[:20]) == d.y_test[:20]).mean()
    r = APGD(eps=0.2, steps=10).run(target, d.x_test[:20], d.y_test[:20])
    assert r.robust_accuracy < clean  # the attack ran and broke something

"""Membership metrics checked against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from advlab.errors import InputError
from advlab.privacy.metrics import (
    auc,
    balanced_accuracy,
    dp_tpr_bound,
    empirical_epsilon,
    epsilon_lower_bound,
    fpr_warning,
    membership_metrics,
    ppv,
    roc_curve,
    roc_points,
    roc_svg,
    tpr_at_fpr,
)


def test_roc_hand_computed() -> None:
    # members: 0.9, 0.8, 0.3 ; non-members: 0.7, 0.2
    scores = [0.9, 0.8, 0.7, 0.3, 0.2]
    members = [1, 1, 0, 1, 0]
    fpr, tpr, thr = roc_curve(scores, members)
    np.testing.assert_allclose(fpr, [0, 0, 0, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(tpr, [0, 1 / 3, 2 / 3, 2 / 3, 1, 1])
    assert thr[0] == np.inf
    # AUC = P(member score > non-member score) = (2 + 2 + 1) / 6
    assert auc(scores, members) == pytest.approx(5 / 6)
    assert tpr_at_fpr(scores, members, 0.0) == pytest.approx(2 / 3)
    assert tpr_at_fpr(scores, members, 0.49) == pytest.approx(2 / 3)
    assert tpr_at_fpr(scores, members, 0.5) == pytest.approx(1.0)
    # best balanced accuracy: threshold 0.3 -> TPR 1, FPR 0.5 -> 0.75; threshold 0.8 -> (2/3+1)/2
    assert balanced_accuracy(scores, members) == pytest.approx((2 / 3 + 1) / 2)


def test_ties_are_never_split() -> None:
    # all scores equal: the only points are (0, 0) and (1, 1); TPR at any FPR < 1 is 0
    s = np.zeros(10)
    m = np.r_[np.ones(5, bool), np.zeros(5, bool)]
    fpr, tpr, _ = roc_curve(s, m)
    assert list(fpr) == [0, 1] and list(tpr) == [0, 1]
    assert tpr_at_fpr(s, m, 0.1) == 0.0
    assert auc(s, m) == pytest.approx(0.5)


def test_auc_matches_mann_whitney() -> None:
    rng = np.random.default_rng(0)
    s = np.round(rng.normal(size=300), 1)  # many ties
    m = rng.random(300) < 0.4
    pos, neg = s[m], s[~m]
    mw = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (
        len(pos) * len(neg)
    )
    assert auc(s, m) == pytest.approx(mw)


def test_epsilon_bound_and_ppv() -> None:
    assert epsilon_lower_bound(0.5, 0.05, 0.0) == pytest.approx(math.log(10))
    assert epsilon_lower_bound(0.01, 0.01, 0.0) == 0.0
    assert epsilon_lower_bound(0.3, 0.0, 0.0) == math.inf
    # delta reduces the bound: TPR <= e^eps FPR + delta
    assert epsilon_lower_bound(0.5, 0.05, 0.1) == pytest.approx(math.log(8))
    assert ppv(0.5, 0.05, 0.5) == pytest.approx(0.5 / 0.55)
    assert ppv(0.5, 0.05, 0.1) == pytest.approx(0.05 / (0.05 + 0.045))
    b = dp_tpr_bound([0.001, 0.5], 1.0, 1e-5)
    assert b[0] == pytest.approx(math.e * 0.001 + 1e-5)
    assert b[1] <= 1.0
    with pytest.raises(InputError):
        ppv(0.5, 0.1, 1.5)


def test_metrics_bundle_ci_and_warnings() -> None:
    rng = np.random.default_rng(1)
    m = np.r_[np.ones(300, bool), np.zeros(100, bool)]
    s = rng.normal(size=400) + m * 1.5
    res = membership_metrics(s, m, n_boot=100)
    assert res.n_members == 300 and res.n_nonmembers == 100
    assert res.auc == pytest.approx(auc(s, m))
    lo, hi = res.tpr_ci["10%"]
    assert lo <= res.tpr_at_fpr["10%"] <= hi
    assert any("unbalanced" in w for w in res.warnings)
    assert any("0.100% FPR cannot be estimated" in w for w in res.warnings)
    assert any("1.000% FPR rests on 1" in w for w in res.warnings)
    assert res.ppv["10%"] > 0.5
    assert res.epsilon_lower_bound["10%"] > 0


def test_fpr_warning_thresholds() -> None:
    assert fpr_warning(999, 0.001) is not None
    assert fpr_warning(10_000, 0.001) is None
    assert "noisy" in (fpr_warning(2000, 0.001) or "")


def test_bad_inputs_named() -> None:
    with pytest.raises(InputError, match=r"indices \[1\]"):
        roc_curve([0.1, float("nan"), 0.3], [1, 0, 1])
    with pytest.raises(InputError, match="both members and non-members"):
        roc_curve([0.1, 0.2], [1, 1])
    with pytest.raises(InputError, match="same length"):
        roc_curve([0.1, 0.2, 0.3], [1, 0])


def test_empirical_epsilon_is_conservative() -> None:
    rng = np.random.default_rng(2)
    m = np.r_[np.ones(2000, bool), np.zeros(2000, bool)]
    s_null = rng.normal(size=4000)  # no signal: the high-confidence bound should be ~0
    assert empirical_epsilon(s_null, m) < 0.15
    s = rng.normal(size=4000) + 3 * m
    assert empirical_epsilon(s, m) > 1.0


def test_roc_svg(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    m = rng.random(500) < 0.5
    s = rng.normal(size=500) + m
    pts = roc_points(s, m)
    assert all(0 < f <= 1 and 0 < t <= 1 for f, t in pts)
    svg = roc_svg({"attack": pts}, tmp_path / "roc.svg", dp_bound=(1.0, 1e-5))
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert (tmp_path / "roc.svg").read_text() == svg
    assert "DP bound" in svg

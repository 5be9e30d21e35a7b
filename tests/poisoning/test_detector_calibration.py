"""Threshold rules of the poison detectors that never look at the poisons (calibration)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from advlab.defenses.poison import (
    ActivationClustering,
    NeuralCleanse,
    PoisonStatistic,
    SpectralSignatures,
    Strip,
    clean_flags,
    conformal_threshold,
    modified_z,
    robust_flags,
)
from advlab.errors import ConfigError, InputError


def binomial_slack(p: float, n: int, z: float = 3.0) -> float:
    """``z`` standard deviations of a binomial rate ``p`` over ``n`` draws."""
    return z * math.sqrt(p * (1 - p) / n)


def gaussian_statistic(
    rng: np.random.Generator, n_train: int, n_clean: int, k: int = 4
) -> PoisonStatistic:
    """Per class ``c`` a normal statistic with class-dependent location and scale."""
    y = rng.integers(0, k, n_train)
    yc = rng.integers(0, k, n_clean)
    loc, scale = np.arange(k) * 3.0, 1.0 + np.arange(k)
    s = rng.normal(loc[y], scale[y])
    sc = rng.normal(loc[yc], scale[yc])
    return PoisonStatistic(y, s, np.zeros(0, dtype=np.int64), sc, yc)


def test_conformal_threshold_is_the_order_statistic() -> None:
    s = np.arange(1.0, 100.0)  # 99 values
    # ceil(100 * 0.95) = 95th smallest
    assert conformal_threshold(s[::-1], 0.05) == 95.0
    assert conformal_threshold(s[:18], 0.05) is None  # fewer than 1 / fpr - 1 points
    assert conformal_threshold(s[:19], 0.05) == 19.0


@pytest.mark.parametrize("fpr", [0.01, 0.05, 0.2])
def test_clean_rule_removes_about_fpr_of_fresh_clean_data(fpr: float) -> None:
    # calibrate on one clean sample, count flags on a fresh sample of the same distribution:
    # the conformal threshold's expected exceedance is in [fpr - 1/(n+1), fpr]
    rng = np.random.default_rng(0)
    rates = []
    for _ in range(5):
        st = gaussian_statistic(rng, n_train=4000, n_clean=2000)
        flags, thr = clean_flags(st, fpr)
        assert set(thr) == {"0", "1", "2", "3"}
        rates.append(len(flags) / len(st.y))
    rate = float(np.mean(rates))
    per_class = 2000 / 4
    assert fpr - 1 / (per_class + 1) - binomial_slack(fpr, 20000) <= rate, rates
    assert rate <= fpr + binomial_slack(fpr, 20000), rates


def test_clean_rule_is_per_class() -> None:
    # class 1's statistic is shifted by +10: a pooled threshold would flag most of it
    rng = np.random.default_rng(1)
    y, yc = np.repeat([0, 1], 500), np.repeat([0, 1], 500)
    s = rng.normal(0, 1, 1000) + 10 * y
    sc = rng.normal(0, 1, 1000) + 10 * yc
    flags, thr = clean_flags(PoisonStatistic(y, s, np.zeros(0, np.int64), sc, yc), 0.05)
    assert thr["1"] > thr["0"] + 5
    assert np.mean(y[flags] == 1) == pytest.approx(0.5, abs=0.2)
    pooled, thr_all = clean_flags(
        PoisonStatistic(y, s, np.zeros(0, np.int64), sc, yc), 0.05, per_class=False
    )
    assert set(thr_all) == {"all"} and np.all(y[pooled] == 1)


def test_clean_rule_never_sees_the_training_statistic() -> None:
    # thresholds depend on the clean scores only: planting, permuting or removing poisons in
    # the training statistic leaves them unchanged
    rng = np.random.default_rng(2)
    st = gaussian_statistic(rng, n_train=2000, n_clean=1000)
    _, thr = clean_flags(st, 0.05)
    poisoned = st.scores.copy()
    planted = rng.choice(len(poisoned), 100, replace=False)
    poisoned[planted] += 50.0
    perm = rng.permutation(len(poisoned))
    for s, y in ((poisoned, st.y), (poisoned[perm], st.y[perm]), (st.scores[:500], st.y[:500])):
        other = PoisonStatistic(y, s, st.default, st.clean_scores, st.y_clean)
        assert clean_flags(other, 0.05)[1] == thr
    flags, _ = clean_flags(
        PoisonStatistic(st.y, poisoned, st.default, st.clean_scores, st.y_clean), 0.05
    )
    assert set(planted) <= set(flags.tolist())  # planted outliers exceed every class threshold


def test_robust_rule_flags_a_planted_minority_and_not_gaussian_data() -> None:
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(5), 400)
    s = rng.normal(0, 1, len(y)) * (1 + y)  # per-class scale
    none = robust_flags(PoisonStatistic(y, s, np.zeros(0, np.int64)))
    assert len(none) <= 0.005 * len(y)  # P(z > 3.5) = 2.3e-4 for a normal
    planted = np.flatnonzero((y == 2) & (np.arange(len(y)) % 10 == 0))  # 10% of class 2
    s2 = s.copy()
    s2[planted] = 8 * (1 + 2) + rng.normal(0, 0.5, len(planted))
    found = robust_flags(PoisonStatistic(y, s2, np.zeros(0, np.int64)))
    assert set(planted) <= set(found.tolist())
    assert len(set(found.tolist()) - set(planted)) <= 0.005 * len(y)


def test_robust_rule_handles_ties_and_eligibility() -> None:
    s = np.zeros(100)
    s[:3] = 5.0  # MAD = 0: the mean absolute deviation stands in
    assert np.all(modified_z(s)[:3] > 3.5) and np.all(modified_z(s)[3:] <= 0)
    assert np.all(modified_z(np.ones(10)) == 0)
    y = np.zeros(100, dtype=np.int64)
    elig = np.arange(100) >= 2
    st = PoisonStatistic(y, s, np.zeros(0, np.int64), eligible=elig)
    assert robust_flags(st).tolist() == [2]
    st_clean = PoisonStatistic(y, s, np.zeros(0, np.int64), s[3:].copy(), y[3:], eligible=elig)
    assert clean_flags(st_clean, 0.05)[0].tolist() == [2]


@pytest.fixture(scope="module")
def split(digits: Any) -> dict[str, Any]:
    """Half of the test split calibrates, the other half is fresh clean data; the model
    trained on neither."""
    h = len(digits.x_test) // 2
    yt = digits.y_test.astype(np.int64)
    return {"cal": (digits.x_test[:h], yt[:h]), "fresh": (digits.x_test[h:], yt[h:])}


@pytest.mark.parametrize(
    "det", [SpectralSignatures(), ActivationClustering()], ids=["spectral", "ac"]
)
def test_clean_calibration_bounds_removal_on_fresh_clean_data(
    det: Any, badnets_set: Any, poisoned_model: torch.nn.Module, split: dict[str, Any]
) -> None:
    fpr = 0.1  # 18 clean points per class: enough for a per-class (1 - 0.1) quantile
    x, y = badnets_set.x, badnets_set.y
    on_cal = det.statistic(x, y, model=poisoned_model, clean=split["cal"])
    on_fresh = det.statistic(x, y, model=poisoned_model, clean=split["fresh"])
    np.testing.assert_allclose(on_cal.scores, on_fresh.scores)  # same fitted statistic
    _, thr = clean_flags(on_cal, fpr)
    yf = split["fresh"][1]
    over = on_fresh.clean_scores > np.array([thr[str(int(c))] for c in yf])
    assert over.mean() <= fpr + binomial_slack(fpr, len(yf)), over.mean()
    d = det.set_params(calibration="clean", fpr=fpr).detect(
        x, y, model=poisoned_model, poison_indices=badnets_set.indices, clean=split["cal"]
    )
    assert d.info["calibration"] == "clean" and d.info["thresholds"] == thr
    assert d.recall > d.clean_removed  # the poisons are far out on the clean distribution


def test_strip_thresholds_ignore_the_training_poisons(
    badnets_set: Any, poisoned_model: torch.nn.Module, split: dict[str, Any]
) -> None:
    det = Strip(n_overlay=10, calibration="clean", seed=0)
    with_p = det.detect(badnets_set.x, badnets_set.y, model=poisoned_model, clean=split["cal"])
    keep = ~badnets_set.poison_mask
    without = det.detect(
        badnets_set.x[keep], badnets_set.y[keep], model=poisoned_model, clean=split["cal"]
    )
    assert with_p.info["thresholds"] == without.info["thresholds"]
    assert list(with_p.info["thresholds"]) == ["all"]  # one threshold, as in the paper
    r = Strip(n_overlay=10, calibration="robust").detect(
        badnets_set.x, badnets_set.y, model=poisoned_model, poison_indices=badnets_set.indices
    )
    assert r.info["calibration"] == "robust" and r.recall > r.clean_removed


def test_neural_cleanse_flags_only_points_of_flagged_labels(
    badnets_set: Any, poisoned_model: torch.nn.Module, split: dict[str, Any]
) -> None:
    det = NeuralCleanse(steps=100, batch_size=64, calibration="clean")
    st = det.statistic(badnets_set.x, badnets_set.y, model=poisoned_model, clean=split["cal"])
    labels = st.info["flagged_labels"]
    for rule in ("default", "clean", "robust"):
        d = det.decide(st, badnets_set.indices, calibration=rule)
        assert np.isin(badnets_set.y[d.flagged], labels).all(), rule
    assert np.all(st.scores[~np.isin(badnets_set.y, labels)] == 0)


def test_calibration_errors(
    badnets_set: Any, poisoned_model: torch.nn.Module, split: dict[str, Any]
) -> None:
    x, y = badnets_set.x, badnets_set.y
    det = SpectralSignatures(calibration="clean")
    with pytest.raises(InputError, match="clean held-out set"):
        det.detect(x, y, model=poisoned_model)
    with pytest.raises(InputError, match="shape"):
        det.detect(x, y, model=poisoned_model, clean=(np.zeros((20, 1, 4, 4)), np.zeros(20)))
    with pytest.raises(InputError, match="labels"):
        det.detect(x, y, model=poisoned_model, clean=(split["cal"][0], np.zeros(3)))
    with pytest.raises(InputError, match="pair"):
        det.detect(x, y, model=poisoned_model, clean=split["cal"][0])
    with pytest.raises(InputError, match="at least 99 clean points"):
        few = (split["cal"][0][:50], split["cal"][1][:50])
        det.set_params(fpr=0.01).detect(x, y, model=poisoned_model, clean=few)
    with pytest.raises(ConfigError, match="calibration"):
        ActivationClustering(calibration="oracle").detect(x, y, model=poisoned_model)
    with pytest.raises(ConfigError, match="fpr"):
        Strip(fpr=1.5).detect(x, y, model=poisoned_model)


def test_strip_keeps_the_papers_frr_name() -> None:
    with pytest.warns(DeprecationWarning):
        s = Strip(frr=0.02)
    assert s.fpr == 0.02 and s.frr == 0.02


def test_clean_rule_pools_only_clean_points_of_eligible_classes() -> None:
    # an eligible class (label 2) with too few clean points of its own takes the pooled
    # threshold; the ineligible classes' clean points (statistic 0, never computed) must not
    # lower it, else every positive score of class 2 would be flagged
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(5), 200)
    s = np.where(y == 2, rng.normal(1.0, 0.2, len(y)), 0.0)
    yc = np.concatenate([np.full(8, 2), np.repeat([0, 1, 3, 4], 50)])
    sc = np.where(yc == 2, rng.normal(1.0, 0.2, len(yc)), 0.0)
    st = PoisonStatistic(y, s, np.zeros(0, dtype=np.int64), sc, yc, eligible=y == 2)
    flags, thr = clean_flags(st, 0.1)  # 8 clean points of class 2 < 1 / 0.1 - 1
    assert list(thr) == ["2"] and thr["2"] is None and len(flags) == 0
    yc2 = np.concatenate([np.full(30, 2), np.repeat([0, 1, 3, 4], 50)])
    sc2 = np.where(yc2 == 2, rng.normal(1.0, 0.2, len(yc2)), 0.0)
    st2 = PoisonStatistic(y, s, np.zeros(0, dtype=np.int64), sc2, yc2, eligible=y == 2)
    flags2, thr2 = clean_flags(st2, 0.1)
    assert thr2["2"] is not None and thr2["2"] > 1.0  # class 2's own quantile, not 0
    assert 0 < len(flags2) <= 0.1 * 200 + binomial_slack(0.1, 200) * 200
    assert np.all(y[flags2] == 2)
    nothing = PoisonStatistic(y, s, np.zeros(0, dtype=np.int64), sc, yc, eligible=y < 0)
    none_flagged, no_thresholds = clean_flags(nothing, 0.1)
    assert len(none_flagged) == 0 and no_thresholds == {}

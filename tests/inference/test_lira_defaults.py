"""LiRA's variance rule: a global variance below 64 reference models, per-example from 64 up
(Carlini et al. 2022). Checked as a rule on generated tasks, not as one setup's number."""

from __future__ import annotations

import numpy as np
import pytest

from advlab.attacks.inference import LiRA, Signals
from advlab.attacks.inference.lira import GLOBAL_VARIANCE_BELOW, variance_mode
from advlab.attacks.inference.reference import balanced_membership
from advlab.privacy.metrics import auc, tpr_at_fpr


def generated_task(n_models: int, seed: int, *, hetero: bool, n: int = 2000) -> Signals:
    """Each example has its own mean confidence; training on it shifts the confidence by one
    of its standard deviations. ``hetero``: standard deviations differ per example (0.3 to 3);
    otherwise every example shares one. Two classes, label 0, so LiRA's ``phi`` is the logit."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(0.0, 2.0, n)
    sd = np.exp(rng.uniform(np.log(0.3), np.log(3.0), n)) if hetero else np.ones(n)
    ref_in = balanced_membership(n_models, n, seed)
    members = rng.random(n) < 0.5
    phi_r = mu + sd * ref_in + sd * rng.normal(size=(n_models, n))
    phi_t = mu + sd * members + sd * rng.normal(size=n)

    def logits(phi: np.ndarray) -> np.ndarray:
        return np.stack([phi, np.zeros_like(phi)], axis=-1)

    return Signals(
        labels=np.zeros(n, int),
        target_logits=logits(phi_t),
        ref_logits=logits(phi_r),
        ref_in=ref_in,
        members=members,
    )


def compare(n_models: int, *, hetero: bool, offline: bool) -> dict[str, np.ndarray]:
    """Mean (TPR at 1% FPR, AUC) of the global and per-example variants over three tasks."""
    out: dict[str, list[tuple[float, float]]] = {"global": [], "per-example": []}
    for seed in range(3):
        s = generated_task(n_models, seed, hetero=hetero)
        assert s.members is not None
        for mode, fixed in (("global", True), ("per-example", False)):
            sc = LiRA(offline=offline, fixed_variance=fixed).score(s)
            out[mode].append((tpr_at_fpr(sc, s.members, 0.01), auc(sc, s.members)))
    return {k: np.mean(v, axis=0) for k, v in out.items()}


@pytest.mark.parametrize("n_models", [1, 2, 8, 16, 32, 63])
def test_default_uses_a_global_variance_below_64_references(n_models: int) -> None:
    assert GLOBAL_VARIANCE_BELOW == 64
    assert variance_mode(n_models) == LiRA().variance_mode(n_models) == "global"


@pytest.mark.parametrize("n_models", [64, 65, 128, 1024])
def test_default_uses_per_example_variances_from_64_references(n_models: int) -> None:
    assert LiRA().variance_mode(n_models) == "per-example"


def test_an_explicit_choice_overrides_the_rule() -> None:
    assert LiRA(fixed_variance=True).variance_mode(1024) == "global"
    assert LiRA(fixed_variance=False).variance_mode(4) == "per-example"


@pytest.mark.parametrize("offline", [False, True])
def test_the_default_scores_are_those_of_the_chosen_mode(offline: bool) -> None:
    few, many = generated_task(16, 0, hetero=False), generated_task(64, 0, hetero=False)
    np.testing.assert_array_equal(
        LiRA(offline=offline).score(few), LiRA(offline=offline, fixed_variance=True).score(few)
    )
    np.testing.assert_array_equal(
        LiRA(offline=offline).score(many), LiRA(offline=offline, fixed_variance=False).score(many)
    )


@pytest.mark.parametrize("offline", [False, True])
@pytest.mark.parametrize("n_models", [4, 8])
def test_global_variance_beats_per_example_with_few_references(
    n_models: int, offline: bool
) -> None:
    r = compare(n_models, hetero=False, offline=offline)
    assert r["global"][0] > r["per-example"][0]  # TPR at 1% FPR
    assert r["global"][1] > r["per-example"][1]  # AUC


@pytest.mark.parametrize("offline", [False, True])
def test_per_example_variances_win_with_many_references_when_examples_differ(
    offline: bool,
) -> None:
    r = compare(128, hetero=True, offline=offline)
    assert r["per-example"][0] > r["global"][0]
    assert r["per-example"][1] > r["global"][1]

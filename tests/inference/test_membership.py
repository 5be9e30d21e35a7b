"""Membership attacks on a tiny overfit MLP: cheap versions of the acceptance criteria."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from inference_helpers import MiaSetup
from scipy.stats import spearmanr

from advlab.attacks.inference import (
    RMIA,
    Augment,
    ConfidenceThreshold,
    EntropyThreshold,
    LiRA,
    LossThreshold,
    MembershipResult,
    ModifiedEntropyThreshold,
    Signals,
    collect_signals,
)
from advlab.attacks.inference.label_only import LabelOnlyAugmentation, LabelOnlyBoundary
from advlab.attacks.inference.shokri import MLLeaks, ShokriAttack
from advlab.attacks.inference.signals import apply_output_defense
from advlab.defenses.output import LabelOnlyOutput, Rounding
from advlab.errors import AccessError, ConfigError, InputError
from advlab.results import Result


def tpr(res: MembershipResult, fpr: float) -> float:
    return res.tpr_at(fpr)


def test_target_overfits(mia: MiaSetup) -> None:
    train = mia.model.score(mia.x[mia.members], mia.y[mia.members])
    test = mia.model.score(mia.x[~mia.members], mia.y[~mia.members])
    assert train - test > 0.15


def test_lira_and_rmia_beat_loss_at_low_fpr(mia: MiaSetup) -> None:
    loss = LossThreshold().infer(mia.signals, n_boot=0)
    lira = LiRA(fixed_variance=True).infer(mia.signals, n_boot=0)
    rmia = RMIA().infer(mia.signals, n_boot=0)
    # 400 non-members: TPR at 1% FPR allows 4 false positives
    assert tpr(lira, 0.01) >= 3 * tpr(loss, 0.01) + 0.01
    assert tpr(rmia, 0.01) >= 3 * tpr(loss, 0.01) + 0.01
    assert lira.auc > loss.auc + 0.03 and rmia.auc > loss.auc + 0.03
    for atk in (
        LiRA(),
        LiRA(offline=True),
        LiRA(offline=True, fixed_variance=True),
        RMIA(offline=True),
        RMIA(offline=True, a=0.5),
    ):
        r = atk.infer(mia.signals, n_boot=0)
        assert r.auc > loss.auc, atk


def test_threshold_attacks_agree_and_are_informative(mia: MiaSetup) -> None:
    loss = LossThreshold().score(mia.signals)
    conf = ConfidenceThreshold().score(mia.signals)
    # confidence and loss rank identically (both monotone in p_y)
    assert spearmanr(loss, conf).statistic > 0.9999
    for atk in (LossThreshold(), ModifiedEntropyThreshold()):
        assert atk.infer(mia.signals, n_boot=0).auc > 0.58
    # entropy ignores the label: weaker, but still above chance
    assert EntropyThreshold().infer(mia.signals, n_boot=0).auc > 0.51


def test_shokri_and_ml_leaks(mia: MiaSetup) -> None:
    sh = ShokriAttack(n_shadow=8, attack_model="logreg").infer(mia.signals, n_boot=0)
    ml = MLLeaks().infer(mia.signals, n_boot=0)
    assert sh.auc > 0.58
    assert ml.auc > 0.51  # label-free top-3 features, like entropy: weaker
    # shadows on a disjoint pool: transfer scoring works and is informative
    half = np.arange(len(mia.x)) % 2 == 0
    shadow = mia.signals.subset(half)
    tgt = mia.signals.subset(~half)
    s = ShokriAttack(n_shadow=8, attack_model="logreg").score_transfer(shadow, tgt)
    assert s.shape == (int((~half).sum()),)
    with pytest.raises(ConfigError, match="n_shadow"):
        ShokriAttack(n_shadow=99).score(mia.signals)


def test_rounding_collapses_loss_threshold_not_label_only(mia: MiaSetup) -> None:
    rounded = Rounding(decimals=1).apply(mia.target)
    sig_r = collect_signals(rounded, mia.x, mia.y, members=mia.members)
    loss_clean = LossThreshold().infer(mia.signals, n_boot=0)
    loss_round = LossThreshold().infer(sig_r, n_boot=0)
    assert tpr(loss_round, 0.01) == 0.0 < tpr(loss_clean, 0.01) + 1e-9
    bnd = LabelOnlyBoundary(directions=8, max_radius=1.0)
    clean = bnd.run(mia.target, mia.x, mia.y, members=mia.members)
    rnd = bnd.run(rounded, mia.x, mia.y, members=mia.members)
    assert clean.auc > 0.58 and rnd.auc > 0.58
    assert tpr(rnd, 0.01) > 0.0
    assert abs(clean.auc - rnd.auc) < 0.03


def test_label_only_augmentation_and_label_access(mia: MiaSetup) -> None:
    aug = Augment(kind="noise", n=16, sigma=0.05, seed=3)
    labels_only = LabelOnlyOutput().apply(mia.target)
    sig = collect_signals(labels_only, mia.x, mia.y, members=mia.members, augment=aug)
    assert sig.output == "labels"
    res = LabelOnlyAugmentation().infer(sig, n_boot=0)
    assert res.auc > 0.58
    with pytest.raises(AccessError):
        LossThreshold().score(sig)
    # misclassified points have boundary distance 0
    d = LabelOnlyBoundary(directions=4, max_radius=1.0).distances(mia.target, mia.x, mia.y)
    wrong = mia.model.predict(mia.x) != mia.y
    assert wrong.any() and (d[wrong] == 0).all() and (d[~wrong] > 0).all()


def test_reference_logits_masked_like_the_target(mia: MiaSetup) -> None:
    z = apply_output_defense(mia.ref.logits[:2], Rounding(decimals=1))
    p = np.exp(z)
    assert np.allclose(np.round(p[p > 1e-9], 1), p[p > 1e-9], atol=1e-6)


def test_result_serialises_and_reports_unbalanced(mia: MiaSetup, caplog) -> None:  # type: ignore[no-untyped-def]
    keep = mia.members | (np.arange(len(mia.x)) % 4 == 0)  # ~400 members, ~100 non-members
    sub = mia.signals.subset(keep)
    with caplog.at_level(logging.WARNING):
        res = LiRA().infer(sub, n_boot=20)
    assert any("unbalanced" in w for w in res.warnings)
    assert "unbalanced" in caplog.text
    back = Result.from_json(res.to_json())
    assert isinstance(back, MembershipResult)
    np.testing.assert_allclose(back.scores, res.scores)
    assert back.metrics["tpr_at_fpr"] == res.metrics["tpr_at_fpr"]
    assert back.summary()["n_members"] == int(sub.members.sum())


def test_nan_outputs_raise_naming_examples(mia: MiaSetup) -> None:
    z = mia.signals.target_logits.copy()
    z[[3, 17]] = np.nan
    with pytest.raises(InputError, match=r"indices \[3, 17\]"):
        Signals(labels=mia.signals.labels, target_logits=z)
    ref = mia.ref.logits.copy()
    ref[2, 5] = np.nan
    with pytest.raises(InputError, match=r"indices \[5\]"):
        Signals(
            labels=mia.signals.labels,
            target_logits=mia.signals.target_logits,
            ref_logits=ref,
            ref_in=mia.ref.ref_in,
        )


def test_offline_lira_needs_no_in_models(mia: MiaSetup) -> None:
    s = mia.signals
    assert s.ref_in is not None and s.ref_logits is not None
    out_only = Signals(
        labels=s.labels,
        target_logits=s.target_logits,
        ref_logits=s.ref_logits[:8],
        ref_in=np.zeros_like(s.ref_in[:8]),
        members=s.members,
    )
    with pytest.raises(ConfigError, match="online"):
        LiRA().score(out_only)
    assert LiRA(offline=True, fixed_variance=True).infer(out_only, n_boot=0).auc > 0.6
    assert RMIA(offline=True, a=0.3).infer(out_only, n_boot=0).auc > 0.6


def test_leave_one_out_targets(mia: MiaSetup) -> None:
    s = mia.signals.with_target(0)
    assert s.n_models == 15 and s.members is not None
    assert LiRA(fixed_variance=True).infer(s, n_boot=0).auc > 0.6

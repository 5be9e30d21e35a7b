"""Feature-squeezing detector: calibration, detection of FGSM/PGD, the rejecting target."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from advlab.attacks.evasion import FGSM, PGD
from advlab.defenses.squeezing import DetectionResult, FeatureSqueezing, SqueezingTarget
from advlab.defenses.transforms import bit_depth_reduce, median_filter2d
from advlab.errors import ConfigError
from advlab.registry import get_defense
from advlab.results import Result
from advlab.targets import TorchClassifier

XY = tuple[torch.Tensor, torch.Tensor]


def halves(test_xy: XY) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Calibrate on the first half of the test set, evaluate on the second (held out)."""
    x, y = test_xy
    return x[:225], x[225:], y[225:]


def test_detects_most_fgsm_examples_at_calibrated_fpr(
    std_target: TorchClassifier, test_xy: XY
) -> None:
    x_cal, x_ev, y_ev = halves(test_xy)
    det = FeatureSqueezing(squeezers=("bits:2",), fpr=0.05).fit(std_target, x_cal)
    assert float((det.clean_scores_ > det.threshold_).float().mean()) <= 0.05
    fgsm = FGSM(eps=0.1).run(std_target, x_ev, y_ev)
    rep = det.evaluate(x_ev, fgsm.x_adv, y_ev)
    assert abs(rep.false_alarm_rate - 0.05) <= 0.04, rep.summary()
    assert rep.undefended_accuracy < 0.7  # the attack works on the bare model
    assert rep.detection_rate_successful >= 0.6, rep.summary()
    assert rep.detection_rate > 3 * rep.false_alarm_rate
    assert rep.defended_accuracy > rep.undefended_accuracy + 0.2
    pgd = PGD(eps=0.1, steps=20).run(std_target, x_ev, y_ev)
    rep_pgd = det.evaluate(x_ev, pgd.x_adv, y_ev)
    assert rep_pgd.detection_rate_successful >= 0.6, rep_pgd.summary()


def test_score_is_max_l1_between_softmaxes(
    std_model: torch.nn.Module, std_target: TorchClassifier, test_xy: XY
) -> None:
    x = test_xy[0][:40]
    det = FeatureSqueezing(squeezers=("bits:3", "median:3")).fit(std_target, test_xy[0][:100])
    with torch.no_grad():
        p0 = F.softmax(std_model(x), 1)
        d1 = (p0 - F.softmax(std_model(bit_depth_reduce(x, 3)), 1)).abs().sum(1)
        d2 = (p0 - F.softmax(std_model(median_filter2d(x, 3)), 1)).abs().sum(1)
    assert torch.allclose(det.score(x), torch.maximum(d1, d2), atol=1e-5)
    assert torch.equal(det.detect(x), det.score(x) > det.threshold_)


def test_rejecting_target_labels_and_true_gradient(
    std_model: torch.nn.Module, std_target: TorchClassifier, test_xy: XY
) -> None:
    x_cal, x_ev, y_ev = halves(test_xy)
    det = FeatureSqueezing(squeezers=("bits:2", "median:3"), fpr=0.1).fit(std_target, x_cal)
    guarded = det.apply(std_target)
    assert isinstance(guarded, SqueezingTarget)
    assert guarded.num_classes == std_target.num_classes + 1
    x = torch.cat([x_ev[:60], FGSM(eps=0.1).run(std_target, x_ev[:60], y_ev[:60]).x_adv])
    labels = guarded.labels(x)
    flagged = det.detect(x)
    assert bool(flagged.any()) and bool((~flagged).any())
    assert bool((labels[flagged] == guarded.reject_class).all())
    assert torch.equal(labels[~flagged], std_target.labels(x)[~flagged])

    # the gradient equals autograd through the whole construction (zero through rounding)
    y = torch.cat([y_ev[:60], y_ev[:60]])
    g, _ = guarded.loss_gradient(x, y)
    xg = x.clone().requires_grad_(True)
    zs = [std_model(xg), std_model(bit_depth_reduce(xg, 2)), std_model(median_filter2d(xg, 3))]
    p0 = F.softmax(zs[0], 1)
    score = torch.stack([(p0 - F.softmax(z, 1)).abs().sum(1) for z in zs[1:]]).amax(0)
    reject = zs[0].amax(1) + det.scale * (score - det.threshold_)
    F.cross_entropy(torch.cat([zs[0], reject[:, None]], 1), y, reduction="sum").backward()
    assert xg.grad is not None
    assert torch.allclose(g, xg.grad, atol=1e-5, rtol=1e-4)
    assert float(g.abs().sum()) > 0
    # an attack runs against the rejecting target (rejections count as breaks there)
    res = PGD(eps=0.1, steps=5).run(guarded, x_ev[:30], y_ev[:30])
    assert 0.0 <= res.robust_accuracy <= res.clean_accuracy


def test_fpr_zero_flags_no_calibration_point(std_target: TorchClassifier, test_xy: XY) -> None:
    det = FeatureSqueezing(squeezers=("bits:2",), fpr=0.0).fit(std_target, test_xy[0][:100])
    assert det.threshold_ == pytest.approx(float(det.clean_scores_.max()))
    assert not bool(det.detect(test_xy[0][:100]).any())


def test_errors_and_registry(std_target: TorchClassifier, test_xy: XY) -> None:
    with pytest.raises(ConfigError, match="fit"):
        FeatureSqueezing().score(test_xy[0][:2])
    with pytest.raises(ConfigError, match="fit"):
        FeatureSqueezing().apply(std_target)
    for bad in (("blur:3",), ("bits:x",), ("bits:0",)):
        with pytest.raises(ConfigError, match="squeezer"):
            FeatureSqueezing(squeezers=bad).fit(std_target, test_xy[0][:10])
    with pytest.raises(ConfigError, match="fpr"):
        FeatureSqueezing(fpr=1.5).fit(std_target, test_xy[0][:10])
    cls = get_defense("feature_squeezing")
    assert cls is FeatureSqueezing and cls.role == "detector" and cls.threat == "evasion"


def test_detection_result_json_round_trip(std_target: TorchClassifier, test_xy: XY) -> None:
    x_cal, x_ev, y_ev = halves(test_xy)
    det = FeatureSqueezing(squeezers=("bits:2",)).fit(std_target, x_cal)
    rep = det.evaluate(
        x_ev[:50], FGSM(eps=0.1).run(std_target, x_ev[:50], y_ev[:50]).x_adv, y_ev[:50]
    )
    assert rep.queries == 2 * 50 + 2 * 50 + 50  # two views per input, plus the labels of x_adv
    back = Result.from_json(rep.to_json())
    assert isinstance(back, DetectionResult)
    assert back.summary() == rep.summary()
    assert torch.allclose(torch.as_tensor(back.adv_scores), rep.adv_scores)

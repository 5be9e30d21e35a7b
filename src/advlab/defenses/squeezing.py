"""The feature-squeezing detector.

Xu, Evans & Qi, "Feature Squeezing: Detecting Adversarial Examples in Deep Neural Networks",
NDSS 2018 (arXiv:1704.01155). The score of an input is the largest L1 distance between the
model's softmax on the input and on each squeezed version of it (bit-depth reduction,
median smoothing); an input is flagged when its score exceeds a threshold chosen on clean
data so that a fraction ``fpr`` of clean inputs is flagged (the paper uses 5%).

Squeezers must suit the data. The paper uses 1-bit depth and a 2x2 median filter on MNIST
(28x28), 5-bit depth, 2x2 median and non-local means on CIFAR-10. On the 8x8, 17-level
``digits`` images both of those destroy the digit (their clean scores are near the maximum,
2, so they detect nothing; see docs/benchmarks/evasion.md (evasion defenses)); 2- and 3-bit depth work, and
are the defaults here.

The detector is calibrated with :meth:`FeatureSqueezing.fit` and turned into a rejecting
target with :meth:`FeatureSqueezing.apply`.

Rejection design
----------------
The rejecting target has ``num_classes + 1`` outputs: the inner logits and a *reject* logit
``max_j z_j(x) + scale * (score(x) - threshold)`` (the construction of Carlini & Wagner,
"Adversarial Examples Are Not Easily Detected", AISec 2017). Its label is the reject class
``R = num_classes`` exactly when the detector fires, and the construction is differentiable,
so white-box attacks get the true (adaptive) gradient of the detector too. Consequences:

- :meth:`~advlab.targets.Target.labels` returns ``R`` for rejected inputs;
- :class:`~advlab.attacks.evasion.EvasionAttack` counts ``label != y`` as a success, so
  against the rejecting target a *rejected* adversarial example counts as broken: its
  robust accuracy is "correct and not rejected" (conservative for the defense). Clean
  inputs that are rejected (false alarms) count as misclassified.
- :meth:`FeatureSqueezing.evaluate` reports the detector's own view: false alarms on clean
  data, detection rate on (successful) adversarial examples, and *defended accuracy*: the
  fraction of adversarial inputs either rejected or classified correctly.

Bit-depth reduction has zero gradients; pass ``bpda=True`` to use the straight-through
approximation in the detector's gradient (see :mod:`advlab.defenses.transforms`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from advlab.defenses.base import DefendedTarget, Defense
from advlab.defenses.transforms import Transform, bit_depth_reduce, median_filter2d
from advlab.errors import ConfigError, InputError
from advlab.registry import register_defense
from advlab.results import Result
from advlab.targets.base import Objective, Target, to_logits
from advlab.utils import as_labels

log = logging.getLogger(__name__)


def parse_squeezer(spec: str, target: Target) -> Transform:
    """A squeezer from its spec: ``"bits:N"`` (bit depth N) or ``"median:K"`` (K x K filter)."""
    name, _, arg = str(spec).partition(":")
    try:
        value = int(arg)
    except ValueError:
        raise ConfigError(
            f"bad squeezer {spec!r}; expected 'bits:N' or 'median:K' with an integer"
        ) from None
    name = name.strip().lower()
    if name in ("bits", "bit-depth", "bit_depth"):
        if not 1 <= value <= 16:
            raise ConfigError(f"squeezer {spec!r}: bits must be in 1..16")
        lo, hi = target.lower, target.upper
        return lambda x: bit_depth_reduce(x, value, lo, hi)
    if name in ("median", "median-smoothing"):
        if value < 1:
            raise ConfigError(f"squeezer {spec!r}: kernel must be >= 1")
        if len(target.input_shape) not in (2, 3):
            raise ConfigError(
                f"squeezer {spec!r} needs image inputs; got shape {target.input_shape}"
            )
        return lambda x: median_filter2d(x, value)
    raise ConfigError(f"unknown squeezer {spec!r}; expected 'bits:N' or 'median:K'")


def squeeze_score(logits: list[torch.Tensor]) -> torch.Tensor:
    """``max_i || softmax(z_0) - softmax(z_i) ||_1`` for ``logits = [z_0, z_1, ...]``."""
    p0 = torch.softmax(logits[0], dim=1)
    dists = [(p0 - torch.softmax(z, dim=1)).abs().sum(1) for z in logits[1:]]
    return torch.stack(dists, dim=0).amax(0)


@dataclass
class DetectionResult(Result):
    """A detector on clean and adversarial inputs.

    ``false_alarm_rate``: clean inputs flagged. ``detection_rate``: adversarial inputs
    flagged; ``detection_rate_successful``: among those that fool the undefended model.
    ``defended_accuracy``: adversarial inputs rejected or classified correctly;
    ``undefended_accuracy``: adversarial inputs classified correctly by the bare model.
    """

    type_name: ClassVar[str] = "detection"

    threshold: float = 0.0
    fpr_target: float = 0.0
    n_clean: int = 0
    n_adv: int = 0
    false_alarm_rate: float = 0.0
    detection_rate: float = 0.0
    detection_rate_successful: float = float("nan")
    defended_accuracy: float = float("nan")
    undefended_accuracy: float = float("nan")
    clean_scores: Any = None
    adv_scores: Any = None

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(
            threshold=self.threshold,
            fpr_target=self.fpr_target,
            n_clean=self.n_clean,
            n_adv=self.n_adv,
            false_alarm_rate=self.false_alarm_rate,
            detection_rate=self.detection_rate,
            detection_rate_successful=self.detection_rate_successful,
            defended_accuracy=self.defended_accuracy,
            undefended_accuracy=self.undefended_accuracy,
        )
        return s

    def _after_load(self) -> None:
        for name in (
            "threshold",
            "fpr_target",
            "false_alarm_rate",
            "detection_rate",
            "detection_rate_successful",
            "defended_accuracy",
            "undefended_accuracy",
        ):
            setattr(self, name, float(getattr(self, name)))


@register_defense
class FeatureSqueezing(Defense):
    """Feature-squeezing detector (Xu et al. 2018).

    Args:
        squeezers: squeezer specs, ``"bits:N"`` and/or ``"median:K"``.
        fpr: fraction of clean calibration inputs flagged (sets the threshold).
        scale: slope of the reject logit in the rejecting target (see module docstring).
        bpda: straight-through (identity) gradients through the squeezers in the rejecting
            target, instead of the true ones (zero through bit-depth reduction).

    Fitted attributes (after :meth:`fit`): ``threshold_``, ``clean_scores_``, ``target_``.

    Example:
        >>> det = FeatureSqueezing(fpr=0.05).fit(target, x_val)
        >>> det.detect(x_adv).float().mean()       # detection rate
        >>> guarded = det.apply(target)             # label num_classes = rejected
    """

    name = "feature_squeezing"
    role = "detector"
    threat = "evasion"
    paper = "Xu, Evans & Qi 2018, NDSS, arXiv:1704.01155"
    summary = (
        "Feature squeezing: flag inputs whose prediction changes under bit-depth/median squeezing."
    )
    link = "arXiv:1704.01155"
    flags = frozenset({"wraps_target"})
    tags = frozenset({"modality:image"})

    def __init__(
        self,
        *,
        squeezers: tuple[str, ...] | list[str] = ("bits:2", "bits:3"),
        fpr: float = 0.05,
        scale: float = 10.0,
        bpda: bool = False,
    ) -> None:
        self.squeezers = squeezers
        self.fpr = fpr
        self.scale = scale
        self.bpda = bpda

    # ------------------------------------------------------------------ fitting
    def _validate(self) -> None:
        if not self.squeezers:
            raise ConfigError(f"{self.name}: at least one squeezer is needed")
        if not 0.0 <= float(self.fpr) < 1.0:
            raise ConfigError(f"{self.name}: fpr must be in [0, 1), got {self.fpr!r}")
        if not float(self.scale) > 0:
            raise ConfigError(f"{self.name}: scale must be > 0, got {self.scale!r}")

    def _transforms(self, target: Target) -> list[Transform]:
        return [parse_squeezer(s, target) for s in self.squeezers]

    def fit(self, target: Target, x_clean: Any) -> FeatureSqueezing:
        """Calibrate the threshold on clean inputs: a fraction ``fpr`` of them is flagged."""
        self._validate()
        x = target.check_inputs(x_clean)
        if len(x) == 0:
            raise InputError("feature_squeezing: fit needs at least one clean input")
        self.target_ = target
        self._squeeze_ = self._transforms(target)
        scores = self._scores(target, x)
        s = scores.detach().cpu().numpy().astype(np.float64)
        # the smallest threshold with at most fpr of the clean scores strictly above it
        self.threshold_ = float(np.quantile(s, 1.0 - float(self.fpr), method="higher"))
        self.clean_scores_ = scores.detach().cpu()
        log.info(
            "feature squeezing: threshold %.4g (clean fpr %.3f)",
            self.threshold_,
            float((scores > self.threshold_).float().mean()),
        )
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise ConfigError(f"{self.name}: call fit(target, x_clean) before scoring or applying")

    def _scores(self, target: Target, x: torch.Tensor) -> torch.Tensor:
        """Counted: one query per input per view (the input and each squeezed version)."""
        zs = [target.logits(x)] + [target.logits(sq(x)) for sq in self._squeeze_]
        return squeeze_score(zs)

    # ------------------------------------------------------------------ detector API
    def score(self, x: Any) -> torch.Tensor:
        """Squeezing score per input (higher = more suspicious)."""
        self._check_fitted()
        return self._scores(self.target_, self.target_.check_inputs(x))

    def detect(self, x: Any) -> torch.Tensor:
        """Boolean mask: ``score(x) > threshold_``."""
        return self.score(x) > self.threshold_

    def evaluate(self, x_clean: Any, x_adv: Any, y: Any = None) -> DetectionResult:
        """False alarms on ``x_clean``, detection on ``x_adv`` (with true labels ``y``)."""
        self._check_fitted()
        t = self.target_
        q0, g0 = t.meter.snapshot()
        sc = self.score(x_clean)
        xa = t.check_inputs(x_adv)
        sa = self._scores(t, xa)
        det_a = sa > self.threshold_
        res = DetectionResult(
            attack=self.name,
            params=self.get_params(),
            target=t.describe(),
            threshold=self.threshold_,
            fpr_target=float(self.fpr),
            n_clean=len(sc),
            n_adv=len(sa),
            false_alarm_rate=float((sc > self.threshold_).float().mean()),
            detection_rate=float(det_a.float().mean()) if len(sa) else float("nan"),
            clean_scores=sc.detach().cpu(),
            adv_scores=sa.detach().cpu(),
        )
        if y is not None:
            yt = as_labels(y, device=t.device).reshape(-1)
            if len(yt) != len(xa):
                raise InputError(f"got {len(xa)} adversarial inputs but {len(yt)} labels")
            correct = t.labels(xa) == yt
            fooled = ~correct
            res.undefended_accuracy = float(correct.float().mean())
            res.defended_accuracy = float((correct | det_a).float().mean())
            if bool(fooled.any()):
                res.detection_rate_successful = float(det_a[fooled].float().mean())
        q1, g1 = t.meter.snapshot()
        res.queries, res.gradient_calls = q1 - q0, g1 - g0
        return res

    def apply(self, target: Target) -> Target:
        """A rejecting target: label ``target.num_classes`` means "rejected"."""
        self._check_fitted()
        if target is not self.target_:
            log.warning("feature_squeezing: applied to a different target than it was fitted on")
        return SqueezingTarget(target, self, self._transforms(target), self.threshold_)


def _linear(v: torch.Tensor) -> Objective:
    """The objective ``z -> (z * v).sum(1)``: its gradient is the vector-Jacobian product."""
    return lambda z: (z * v).sum(1)


class SqueezingTarget(DefendedTarget):
    """A target that rejects inputs flagged by feature squeezing (reject class = last)."""

    def __init__(
        self, inner: Target, defense: FeatureSqueezing, squeezers: list[Transform], threshold: float
    ) -> None:
        super().__init__(inner, defense)
        self.squeezers = squeezers
        self.threshold = float(threshold)
        self.scale = float(defense.scale)
        self.bpda = bool(defense.bpda)
        self.reject_class = inner.num_classes
        self.num_classes = inner.num_classes + 1
        self.output = "logits"

    def _combine(self, zs: list[torch.Tensor]) -> torch.Tensor:
        z0 = zs[0]
        reject = z0.amax(1) + self.scale * (squeeze_score(zs) - self.threshold)
        return torch.cat([z0, reject[:, None]], dim=1)

    def _inner_logits(self, x: torch.Tensor) -> torch.Tensor:
        return to_logits(self.inner._forward(x), self.inner.output)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._combine(
            [self._inner_logits(x)] + [self._inner_logits(s(x)) for s in self.squeezers]
        )

    def _gradient(self, x: torch.Tensor, objective: Objective) -> tuple[torch.Tensor, torch.Tensor]:
        """Chain rule through every view: ``sum_i (dt_i/dx)^T J_f(t_i(x))^T dobj/dz_i``.

        Each model Jacobian product is one inner gradient call with a linear objective, so
        this works for any white-box inner target.
        """
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            views = [xg] + [s(xg) for s in self.squeezers]
            with torch.no_grad():
                zs = [self._inner_logits(v.detach()) for v in views]
            zvars = [z.detach().requires_grad_(True) for z in zs]
            combined = self._combine(zvars)
            vs = torch.autograd.grad(objective(combined).sum(), zvars, allow_unused=True)
            grad = torch.zeros_like(x)
            for i, (view, v) in enumerate(zip(views, vs, strict=True)):
                if v is None:
                    continue
                g_i, _ = self.inner._gradient(view.detach(), _linear(v))
                if i == 0 or self.bpda:
                    grad = grad + g_i
                elif view.requires_grad:
                    (back,) = torch.autograd.grad(
                        view, xg, grad_outputs=g_i, retain_graph=True, allow_unused=True
                    )
                    if back is not None:
                        grad = grad + back
        return grad.detach(), combined.detach()

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(reject_class=self.reject_class, threshold=self.threshold, bpda=self.bpda)
        return d

"""Base class and result types of inference attacks (membership, inversion, attributes).

A membership attack turns :class:`~advlab.attacks.inference.signals.Signals` into one score
per example (higher = more likely a member) with :meth:`MembershipAttack.score`, numpy only;
:meth:`MembershipAttack.infer` adds the bookkeeping once for every attack: finiteness
checks naming the examples, timing, and the low-FPR metrics of :mod:`advlab.privacy.metrics`
when the ground truth is known.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, final

import numpy as np

from advlab.access import Access
from advlab.attacks.base import Attack
from advlab.attacks.inference.signals import Signals, collect_signals
from advlab.errors import ConfigError, InputError
from advlab.privacy.metrics import DEFAULT_FPRS, membership_metrics
from advlab.results import Result
from advlab.targets.base import Target


@dataclass
class MembershipResult(Result):
    """Per-example membership scores, the ground truth when known, and the metrics.

    ``metrics`` is :meth:`advlab.privacy.metrics.MembershipMetrics.to_dict` (AUC, TPR at each
    FPR with bootstrap CIs, balanced accuracy, PPV, epsilon lower bounds, warnings).
    """

    type_name: ClassVar[str] = "membership"

    scores: Any = None
    members: Any = None
    metrics: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return 0 if self.scores is None else len(self.scores)

    def tpr_at(self, fpr: float) -> float:
        """TPR at ``fpr`` (one of the FPRs the metrics were computed at)."""
        key = f"{fpr * 100:g}%"
        tprs = self.metrics.get("tpr_at_fpr", {})
        if key not in tprs:
            raise InputError(f"no TPR at {key} FPR; computed at {sorted(tprs)}")
        return float(tprs[key])

    @property
    def auc(self) -> float:
        return float(self.metrics.get("auc", float("nan")))

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(n=self.n)
        for k in ("n_members", "n_nonmembers", "auc", "balanced_accuracy", "tpr_at_fpr"):
            if k in self.metrics:
                s[k] = self.metrics[k]
        if self.warnings:
            s["warnings"] = list(self.warnings)
        return s


@dataclass
class InversionResult(Result):
    """Class-representative reconstructions and how recognisable they are."""

    type_name: ClassVar[str] = "inversion"

    reconstructions: Any = None
    classes: Any = None
    target_confidence: Any = None
    eval_accuracy: float | None = None
    eval_predictions: Any = None
    distance_to_class_mean: Any = None
    baseline_distance: Any = None

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(
            n=0 if self.classes is None else len(self.classes),
            eval_accuracy=self.eval_accuracy,
            mean_target_confidence=None
            if self.target_confidence is None
            else float(np.mean(self.target_confidence)),
            mean_distance_to_class_mean=None
            if self.distance_to_class_mean is None
            else float(np.mean(self.distance_to_class_mean)),
            mean_baseline_distance=None
            if self.baseline_distance is None
            else float(np.mean(self.baseline_distance)),
        )
        return s


@dataclass
class AttributeResult(Result):
    """Inferred values of a sensitive feature, next to a baseline that never queries the model."""

    type_name: ClassVar[str] = "attribute"

    feature: int = 0
    predictions: Any = None
    baseline_predictions: Any = None
    truth: Any = None
    accuracy: float | None = None
    baseline_accuracy: float | None = None
    members_accuracy: float | None = None
    nonmembers_accuracy: float | None = None

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(
            feature=self.feature,
            n=0 if self.predictions is None else len(self.predictions),
            accuracy=self.accuracy,
            baseline_accuracy=self.baseline_accuracy,
            advantage=None
            if self.accuracy is None or self.baseline_accuracy is None
            else self.accuracy - self.baseline_accuracy,
            members_accuracy=self.members_accuracy,
            nonmembers_accuracy=self.nonmembers_accuracy,
        )
        return s


class MembershipAttack(Attack):
    """Scores examples from :class:`Signals`; subclasses implement :meth:`score`."""

    family: ClassVar[str] = "inference"
    requires: ClassVar[Access] = Access.SCORES

    @abstractmethod
    def score(self, signals: Signals) -> np.ndarray:
        """One float64 score per example; higher means more likely a member."""

    def assess_task(self, target: Target, points: Any, *, seed: int = 0) -> MembershipResult:
        """Score the target alone: members are the target's training points, non-members
        the held-out test points (balanced, as many of each as the smaller set, capped by
        ``len(points.x)``). Attacks that need reference models (LiRA, RMIA, Shokri) say so:
        a ``goal: inference`` assessment trains them (:mod:`advlab.assess.task_inference`),
        or build signals with :class:`ReferenceModels` from Python."""
        if self.has("needs_reference_models"):
            raise ConfigError(
                f"{self.name} needs reference models trained like the target: run it in a "
                "goal: inference assessment, or use advlab.attacks.inference.ReferenceModels"
            )
        k = min(len(points.x_train), len(points.x_test), max(len(points.x), 1))
        x = np.concatenate([points.x_train[:k], points.x_test[:k]])
        y = np.concatenate([points.y_train[:k], points.y_test[:k]])
        members = np.r_[np.ones(k, bool), np.zeros(k, bool)]
        signals = collect_signals(target, x, y, members=members)
        return self.infer(signals, seed=seed)

    @final
    def infer(
        self,
        signals: Signals,
        *,
        members: Any = None,
        prior: float = 0.5,
        delta: float = 1e-5,
        fprs: Sequence[float] = DEFAULT_FPRS,
        n_boot: int = 200,
        seed: int = 0,
    ) -> MembershipResult:
        """Score the examples; with ground truth (``members`` / ``signals.members``) add metrics."""
        t0 = time.perf_counter()
        scores = np.asarray(self.score(signals), dtype=np.float64).reshape(-1)
        if len(scores) != signals.n_examples:
            raise InputError(
                f"{self.name} returned {len(scores)} scores for {signals.n_examples} examples"
            )
        bad = np.flatnonzero(~np.isfinite(scores))
        if len(bad):
            raise InputError(
                f"{self.name} produced NaN/inf scores for {len(bad)} example(s): indices "
                f"{bad[:20].tolist()}; check those examples' model outputs"
            )
        truth = signals.members if members is None else np.asarray(members, dtype=bool)
        metrics: dict[str, Any] = {}
        warns: list[str] = []
        if truth is not None:
            m = membership_metrics(
                scores, truth, fprs=fprs, prior=prior, delta=delta, n_boot=n_boot, seed=seed
            )
            metrics = m.to_dict()
            warns = list(m.warnings)
        return MembershipResult(
            attack=self.name,
            params=self.get_params(),
            seed=seed,
            seconds=time.perf_counter() - t0,
            target=dict(signals.meta.get("target") or {}),
            scores=scores,
            members=truth,
            metrics=metrics,
            warnings=warns,
        )

"""Label-only membership inference: robustness of the predicted label.

Choquette-Choo, Tramer, Carlini & Papernot, "Label-Only Membership Inference Attacks",
ICML 2021 (arXiv:2007.14321). With only the predicted label, members are recognised
because the model stays correct on them under perturbation:

- :class:`LabelOnlyAugmentation`: the fraction of augmented queries (flips and shifts for
  images, Gaussian noise for tabular data; see :class:`~.signals.Augment`) still labelled
  correctly, read from :class:`~.signals.Signals` (only the argmax of each output is used,
  so rounded or top-1 outputs give the same score);
- :class:`LabelOnlyBoundary`: the distance to the decision boundary, found with label queries
  only, by advlab's HopSkipJump (Chen et al. 2020) when ``method="hopskipjump"``, or by a
  seeded random-direction binary search (``method="search"``, the default: cheaper and
  deterministic). Misclassified points get distance 0.

Example:
    >>> sig = LabelOnlyBoundary(directions=32).extract(target, x, y, members=m)
    >>> LabelOnlyBoundary().infer(sig).tpr_at(0.01)
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from advlab.access import Access
from advlab.attacks.inference.base import MembershipAttack, MembershipResult
from advlab.attacks.inference.signals import Signals, query_target
from advlab.errors import ConfigError
from advlab.registry import register_attack
from advlab.targets.base import Target
from advlab.utils import as_labels, make_generator

log = logging.getLogger(__name__)


@register_attack
class LabelOnlyAugmentation(MembershipAttack):
    name = "label_only_augmentation"
    requires = Access.LABELS
    paper = "Choquette-Choo et al. 2021, arXiv:2007.14321"
    summary = "Fraction of augmented / noisy queries still labelled correctly (labels only)."
    link = "arXiv:2007.14321"

    def __init__(self) -> None:
        pass

    def score(self, signals: Signals) -> np.ndarray:
        if signals.n_augmentations < 2:
            log.warning(
                "%s: signals have one query per example; use an Augment with n > 1", self.name
            )
        pred = signals.target_logits.argmax(axis=-1)  # (N, A)
        return (pred == signals.labels[:, None]).mean(axis=1)  # type: ignore[no-any-return]


def _flips(
    target: Target, base: torch.Tensor, d: torch.Tensor, yy: torch.Tensor, r: torch.Tensor
) -> torch.Tensor:
    """Whether ``clip(base + r * d)`` changes the label, per point and direction ``(n, k)``."""
    n, k = r.shape
    pts = target.clip(base + r.reshape(n, k, *([1] * (base.dim() - 2))) * d)
    lab = target.labels(pts.reshape(n * k, *base.shape[2:]))
    return (lab != yy).reshape(n, k)


def boundary_distance_search(
    target: Target,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    directions: int = 16,
    max_radius: float = 2.0,
    steps: int = 12,
    seed: int = 0,
    batch_points: int = 256,
) -> torch.Tensor:
    """L2 distance to the nearest label change along ``directions`` random unit directions.

    Per point and direction a binary search (``steps`` label queries after one probe at
    ``max_radius``) on the radius, staying inside the target's bounds by clipping; the point's
    distance is the minimum over directions, ``max_radius`` when no direction flips the label,
    and 0 when the point is already misclassified. Label queries only.
    """
    gen = make_generator(seed, target.device)
    out = torch.zeros(len(x), device=target.device)
    for s in range(0, len(x), batch_points):
        xb, yb = x[s : s + batch_points], y[s : s + batch_points]
        n = len(xb)
        correct = target.labels(xb) == yb
        d = torch.randn((n, directions, *xb.shape[1:]), generator=gen, device=gen.device)
        d = d.to(target.device)
        d = d / d.flatten(2).norm(dim=2).clamp_min(1e-12).reshape(
            n, directions, *([1] * (xb.dim() - 1))
        )
        base = xb.unsqueeze(1).expand(n, directions, *xb.shape[1:])
        yy = yb.unsqueeze(1).expand(n, directions).reshape(-1)

        hi = torch.full((n, directions), float(max_radius), device=target.device)
        lo = torch.zeros_like(hi)
        found = _flips(target, base, d, yy, hi)
        for _ in range(steps):
            mid = (lo + hi) / 2
            f = _flips(target, base, d, yy, mid)
            hi = torch.where(f, mid, hi)
            lo = torch.where(f, lo, mid)
        dist = torch.where(found, hi, torch.full_like(hi, float(max_radius))).min(dim=1).values
        out[s : s + n] = torch.where(correct, dist, torch.zeros_like(dist))
    return out


@register_attack
class LabelOnlyBoundary(MembershipAttack):
    """Boundary-distance membership inference from labels only (Choquette-Choo et al. 2021).

    Args:
        method: ``search`` (binary search along random directions) | ``hopskipjump``.
        directions: random directions per point (``search``).
        max_radius: the largest L2 distance searched (``search``).
        steps: binary-search steps per direction (``search``).
        max_queries: HopSkipJump's label queries per point (``hopskipjump``).
        seed: seeds the directions and HopSkipJump.
    """

    name = "label_only_boundary"
    requires = Access.LABELS
    paper = "Choquette-Choo et al. 2021, arXiv:2007.14321"
    summary = "Distance to the decision boundary from label queries (members lie farther away)."
    link = "arXiv:2007.14321"
    flags = frozenset({"iterative", "query_based", "randomized"})

    def __init__(
        self,
        *,
        method: str = "search",
        directions: int = 16,
        max_radius: float = 2.0,
        steps: int = 12,
        max_queries: int = 1000,
        seed: int = 0,
    ) -> None:
        self.method = method
        self.directions = directions
        self.max_radius = max_radius
        self.steps = steps
        self.max_queries = max_queries
        self.seed = seed

    def distances(self, target: Target, x: Any, y: Any) -> np.ndarray:
        """L2 boundary distance of each ``(x, y)`` (0 for misclassified points); label queries."""
        xt = target.check_inputs(x)
        yt = as_labels(y, device=target.device)
        if self.method == "search":
            self._positive(directions=self.directions, max_radius=self.max_radius)
            d = boundary_distance_search(
                target,
                xt,
                yt,
                directions=int(self.directions),
                max_radius=float(self.max_radius),
                steps=int(self.steps),
                seed=int(self.seed),
            )
            return d.cpu().numpy().astype(np.float64)  # type: ignore[no-any-return]
        if self.method == "hopskipjump":
            try:
                from advlab.attacks.evasion.hopskipjump import HopSkipJump
            except ImportError as exc:  # pragma: no cover - present in advlab
                raise ConfigError("method='hopskipjump' needs advlab's HopSkipJump") from exc
            from advlab.targets.base import LabelsOnly

            res = HopSkipJump(
                norm="l2", eps=None, max_queries=self.max_queries, seed=self.seed
            ).run(LabelsOnly(target), xt, yt)
            norms = res.norms.detach().cpu().numpy().astype(np.float64)
            ok = res.clean_correct.cpu().numpy().astype(bool)
            succ = res.success.cpu().numpy().astype(bool)
            far = float(np.nanmax(norms[succ])) if succ.any() else float(self.max_radius)
            return np.where(ok, np.where(succ, norms, far), 0.0)  # type: ignore[no-any-return]
        raise ConfigError(
            f"{self.name}: method must be 'search' or 'hopskipjump', got {self.method!r}"
        )

    def extract(
        self,
        target: Target,
        x: Any,
        y: Any,
        *,
        members: Any = None,
        signals: Signals | None = None,
    ) -> Signals:
        """Signals carrying ``features["boundary_distance"]`` (adds to ``signals`` if given)."""
        dist = self.distances(target, x, y)
        if signals is None:
            logits, kind = query_target(
                target, np.asarray(x if not isinstance(x, torch.Tensor) else x.cpu().numpy())
            )
            signals = Signals(
                labels=np.asarray(y if not isinstance(y, torch.Tensor) else y.cpu().numpy()),
                target_logits=logits,
                members=members,
                output=kind,
                meta={"target": target.describe()},
            )
        signals.features["boundary_distance"] = dist
        return signals

    def score(self, signals: Signals) -> np.ndarray:
        if "boundary_distance" not in signals.features:
            raise ConfigError(
                f"{self.name}: signals have no boundary distances; build them with "
                "LabelOnlyBoundary(...).extract(target, x, y)"
            )
        return np.asarray(signals.features["boundary_distance"], dtype=np.float64)

    def run(self, target: Target, x: Any, y: Any, *, members: Any = None) -> MembershipResult:
        """Extract distances and score in one call."""
        return self.infer(self.extract(target, x, y, members=members))

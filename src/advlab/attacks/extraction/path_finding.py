"""Path-finding extraction of decision trees.

Tramer, Zhang, Juels, Reiter & Ristenpart, "Stealing Machine Learning Models via Prediction
APIs", USENIX Security 2016 (arXiv:1609.02943), section 4.2 (Algorithm 1).

Some prediction APIs return, besides the label, an identifier of the tree leaf that
answered. A leaf of an axis-aligned tree is a box, so from any input ``x`` a line search
along each feature (binary search, to adjacent float32 values by default, between ``x_i``
and the bound, all
``2 d`` searches batched) finds where the leaf identifier changes: the box of ``x``'s leaf.
The points just across each face lie in neighbouring leaves; exploring them breadth-first
visits every leaf reachable inside the input box. The copy predicts with the label of the
box containing the input (the nearest box, for points in the ``eps`` gaps).

:class:`LeafOracle` exposes such an API for a fitted scikit-learn tree (metered). With
``identifier="label"`` the same search runs on labels only (any target): boxes are then
only label-constant neighbourhoods, adjacent leaves with the same label merge, and the
search is not guaranteed to be exact -- the report gives its fidelity and query cost.

Example:
    >>> oracle = LeafOracle(tree, input_shape=(64,))
    >>> res = PathFinding().extract(oracle, x_eval=x_test, y_eval=y_test)
"""

from __future__ import annotations

import logging
import math
from collections import deque
from typing import Any

import numpy as np
import torch
from torch import nn

from advlab.access import Access
from advlab.attacks.extraction.base import Evaluator, ExtractionAttack, Stolen, uniform_inputs
from advlab.errors import AccessError, BudgetExhausted, ConfigError
from advlab.registry import register_attack
from advlab.targets.base import BoundsLike, Target
from advlab.utils import resolve_device
from advlab.vocab import renamed_params

log = logging.getLogger(__name__)


class LeafOracle(Target):
    """A decision-tree API that answers leaf identifiers with its labels (Tramer 2016).

    Wraps a fitted scikit-learn ``DecisionTreeClassifier`` (anything with ``apply`` and
    ``predict_proba``). :meth:`leaves` is metered like every other query; scores are the
    leaf's class distribution when ``access`` is scores, labels otherwise.
    """

    @renamed_params(max_queries="query_budget")
    def __init__(
        self,
        tree: Any,
        *,
        input_shape: tuple[int, ...],
        bounds: BoundsLike = (0.0, 1.0),
        access: Access = Access.LABELS,
        device: str | torch.device = "cpu",
        query_budget: int | None = None,
        batch_size: int = 4096,
    ) -> None:
        if not hasattr(tree, "apply") or not hasattr(tree, "predict_proba"):
            raise ConfigError("LeafOracle needs a fitted tree with apply() and predict_proba()")
        self.tree = tree
        self.access = Access.parse(access)
        self.output = "probs"
        super().__init__(
            bounds=bounds,
            input_shape=input_shape,
            num_classes=len(tree.classes_),
            device=resolve_device(device),
            query_budget=query_budget,
            batch_size=batch_size,
        )

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        xn = x.detach().cpu().numpy().reshape(len(x), -1).astype(np.float32)
        return torch.as_tensor(self.tree.predict_proba(xn), dtype=torch.float32, device=self.device)

    def leaves(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Leaf identifiers and labels for a batch (counted)."""
        ids, labels = [], []
        for s in range(0, len(x), self.batch_size):
            xb = x[s : s + self.batch_size]
            self.meter.charge(len(xb))
            xn = xb.detach().cpu().numpy().reshape(len(xb), -1).astype(np.float32)
            ids.append(torch.as_tensor(self.tree.apply(xn).astype(np.int64)))
            labels.append(torch.as_tensor(self.tree.predict_proba(xn).argmax(1)))
        return torch.cat(ids), torch.cat(labels)


class BoxModel(nn.Module):
    """The stolen tree: labelled boxes; an input takes the label of the nearest box."""

    def __init__(self, lo: torch.Tensor, hi: torch.Tensor, labels: torch.Tensor, k: int) -> None:
        super().__init__()
        self.register_buffer("lo", lo.to(torch.float64))
        self.register_buffer("hi", hi.to(torch.float64))
        self.register_buffer("labels", labels.long())
        self.k = k

    lo: torch.Tensor
    hi: torch.Tensor
    labels: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.reshape(len(x), 1, -1).to(torch.float64).cpu()
        gap = torch.clamp(self.lo[None] - xf, min=0) + torch.clamp(xf - self.hi[None], min=0)
        idx = gap.sum(2).argmin(1)
        return nn.functional.one_hot(self.labels[idx], self.k).to(torch.float32)


@register_attack
class PathFinding(ExtractionAttack):
    """Tramer et al. 2016 path-finding over leaf identifiers (or labels only).

    Args:
        identifier: ``"auto"`` (leaf ids when the target offers them, else labels),
            ``"leaf"`` or ``"label"``.
        eps: precision of each threshold, in input units; ``None`` searches to adjacent
            float32 values (the queries' resolution), so every float32 input is exact.
        query_budget: stop exploring after this many queries (the copy keeps what it found).
        radius: half-width of the search box for infinite bounds.
        seed: seed of the starting point.
    """

    name = "path_finding"
    requires = Access.LABELS
    paper = "Tramer et al. 2016, USENIX Security, arXiv:1609.02943"
    summary = "Line searches over leaf identifiers recover every leaf box of a decision tree."
    link = "arXiv:1609.02943"
    flags = frozenset({"query_based", "randomized"})

    fast_params = {"query_budget": 20000}
    expected_failures = {
        "efficacy_floor": "extracts decision trees through leaf identifiers; on the kit's CNN "
        "with labels only its label-constant boxes cover too little of the input space "
        "(tests/extraction/test_exact.py checks it on trees)"
    }

    @renamed_params(max_queries="query_budget")
    def __init__(
        self,
        *,
        identifier: str = "auto",
        eps: float | None = None,
        query_budget: int = 500_000,
        radius: float = 10.0,
        seed: int | None = 0,
    ) -> None:
        self.identifier = identifier
        self.eps = eps
        self.query_budget = query_budget
        self.radius = radius
        self.seed = seed

    def _validate(self) -> None:
        if self.identifier not in ("auto", "leaf", "label"):
            raise ConfigError(
                f"path_finding: identifier must be auto, leaf or label, got {self.identifier!r}"
            )
        self._positive(radius=self.radius)
        if self.eps is not None:
            self._positive(eps=self.eps)
        if not isinstance(self.query_budget, int) or self.query_budget < 1:
            raise ConfigError("path_finding: query_budget must be a positive integer")

    def min_queries(self, target: Target) -> int:
        return 1 + 2 * int(np.prod(target.input_shape))

    def _ids(
        self, target: Target, xs: torch.Tensor, leaf: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self._spent + len(xs) > self.query_budget:
            raise BudgetExhausted(f"path_finding: query_budget={self.query_budget} reached")
        self._spent += len(xs)
        xq = xs.reshape(len(xs), *target.input_shape).to(target.device, torch.float32)
        if leaf:
            ids, labels = target.leaves(xq)  # type: ignore[attr-defined]
            return ids.cpu(), labels.cpu()
        labels = self._query_labels(target, xq).cpu()
        return labels, labels

    def _extract(
        self,
        target: Target,
        x: torch.Tensor | None,
        *,
        generator: torch.Generator,
        evaluate: Evaluator,
    ) -> Stolen:
        self._spent = 0
        has_leaves = callable(getattr(target, "leaves", None))
        if self.identifier == "leaf" and not has_leaves:
            raise AccessError(
                "path_finding: identifier='leaf' needs a target that returns leaf ids (LeafOracle)"
            )
        leaf = has_leaves if self.identifier == "auto" else self.identifier == "leaf"
        lo = (
            torch.broadcast_to(target.lower.cpu(), target.input_shape).reshape(-1).to(torch.float64)
        )
        hi = (
            torch.broadcast_to(target.upper.cpu(), target.input_shape).reshape(-1).to(torch.float64)
        )
        lo = torch.where(torch.isfinite(lo), lo, torch.full_like(lo, -self.radius))
        hi = torch.where(torch.isfinite(hi), hi, torch.full_like(hi, self.radius))
        g = torch.Generator().manual_seed(int(self.seed or 0))
        start = uniform_inputs(target, 1, g, dtype=torch.float64).reshape(1, -1).cpu()
        queue: deque[torch.Tensor] = deque([start[0]])
        box_lo: list[torch.Tensor] = []
        box_hi: list[torch.Tensor] = []
        box_lab: list[int] = []
        seen_ids: set[int] = set()
        stopped, message = False, ""
        steps = (
            64
            if self.eps is None
            else max(1, math.ceil(math.log2(float((hi - lo).max()) / self.eps)))
        )
        try:
            while queue:
                xp = queue.popleft()
                if box_lo and _inside(xp, box_lo, box_hi):
                    continue
                ident, lab = self._ids(target, xp[None], leaf)
                if leaf and int(ident[0]) in seen_ids:
                    continue
                a, b, outs = self._box(target, xp, int(ident[0]), lo, hi, steps, leaf)
                seen_ids.add(int(ident[0]))
                box_lo.append(a)
                box_hi.append(b)
                box_lab.append(int(lab[0]))
                queue.extend(outs)
        except BudgetExhausted as exc:
            stopped, message = True, str(exc)
            log.warning("path_finding stopped early: %s", exc)
        if not box_lo:
            raise BudgetExhausted(
                "path_finding: the budget ran out before the first leaf was mapped"
            )
        model = BoxModel(
            torch.stack(box_lo), torch.stack(box_hi), torch.tensor(box_lab), target.num_classes
        )
        return Stolen(
            model=model,
            parameters={
                "leaves_found": len(box_lo),
                "identifier": "leaf" if leaf else "label",
                "box_lower": torch.stack(box_lo).numpy(),
                "box_upper": torch.stack(box_hi).numpy(),
                "box_label": np.asarray(box_lab),
            },
            extra={
                "leaves_found": len(box_lo),
                "identifier": "leaf" if leaf else "label",
                "true_leaves": _true_leaves(target),
                "complete": not stopped,
            },
            stopped_early=stopped,
            message=message,
        )

    def _box(
        self,
        target: Target,
        xp: torch.Tensor,
        ident: int,
        lo: torch.Tensor,
        hi: torch.Tensor,
        steps: int,
        leaf: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        d = len(xp)
        # 2d searches: first d towards the lower bound, next d towards the upper bound
        inside = torch.cat([xp, xp])
        outside = torch.cat([lo, hi])
        eye = torch.cat([torch.eye(d, dtype=torch.float64)] * 2)

        def probe(vals: torch.Tensor) -> torch.Tensor:
            pts = xp[None].repeat(2 * d, 1) * (1 - eye) + eye * vals[:, None]
            return self._ids(target, pts, leaf)[0] == ident

        same_at_bound = probe(outside)
        for _ in range(steps):
            mid = (inside + outside) / 2
            if self.eps is None:  # exact to the queries' float32 resolution
                mid = mid.float().double()
                active = (~same_at_bound) & (mid != inside) & (mid != outside)
            else:
                active = (~same_at_bound) & ((outside - inside).abs() > self.eps)
            if not bool(active.any()):
                break
            same = probe(torch.where(active, mid, inside))
            inside = torch.where(active & same, mid, inside)
            outside = torch.where(active & ~same, mid, outside)
        # exact mode: ``inside`` is the last float32 value in the leaf (inclusive edge);
        # eps mode: the threshold lies between inside and outside, take the middle
        edge = inside if self.eps is None else (inside + outside) / 2
        edge = torch.where(same_at_bound, outside, edge)
        a, b = edge[:d], edge[d:]
        outs = []
        for j in range(2 * d):
            if not bool(same_at_bound[j]):
                nb = xp.clone()
                nb[j % d] = outside[j]
                outs.append(nb)
        return a, b, outs


def _inside(x: torch.Tensor, box_lo: list[torch.Tensor], box_hi: list[torch.Tensor]) -> bool:
    lo = torch.stack(box_lo)
    hi = torch.stack(box_hi)
    return bool(((x[None] >= lo) & (x[None] <= hi)).all(1).any())


def _true_leaves(target: Target) -> int | None:
    tree = getattr(target, "tree", None)
    n = getattr(getattr(tree, "tree_", None), "n_leaves", None)
    return int(n) if n is not None else None

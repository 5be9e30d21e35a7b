"""Per-point query counts of black-box evasion attacks.

A query-based attack (Square, SimBA, HopSkipJump) knows how many queries it spent on each
point and when that point first became adversarial. :class:`QueryCountedAttack` runs the
base class's :meth:`~advlab.attacks.evasion.base.EvasionAttack.run` on a private copy of the
attack that collects those counts in a :class:`QueryLog`, and returns a
:class:`~advlab.results.QueryCountedResult` (the attack the caller holds keeps no state).

A subclass calls :meth:`QueryCountedAttack._log_queries` once per batch from ``_perturb``
with the points it attacked, the queries it spent on each and whether each was broken.
Restarts (the base class attacks the points not yet broken again) add to the point's count:
a point is recognised by its input values within the batch it belongs to.
"""

from __future__ import annotations

from dataclasses import fields
from typing import cast

import torch

from advlab.attacks.evasion.base import EvasionAttack
from advlab.results import EvasionResult, QueryCountedResult
from advlab.targets.base import Target


class QueryLog:
    """Queries to the first success of every attacked point, in the order attacked."""

    def __init__(self) -> None:
        self.entries: list[int | None] = []
        self._batch: dict[bytes, list[list[int]]] = {}  # input bytes -> [entry, spent] slots

    def record(self, x: torch.Tensor, spent: torch.Tensor, broken: torch.Tensor) -> None:
        """One ``_perturb`` call: points ``x``, queries ``spent`` on each, ``broken`` mask.

        A call whose points all belong to the previous batch is a restart: counts add up.
        """
        flat = x.detach().cpu().contiguous().flatten(1).view(torch.uint8)
        keys = [row.numpy().tobytes() for row in flat]
        seen: dict[bytes, int] = {}
        for k in keys:
            seen[k] = seen.get(k, 0) + 1
        restart = bool(self._batch) and all(
            len(self._batch.get(k, ())) >= c for k, c in seen.items()
        )
        if not restart:
            self._batch = {}
        taken: dict[bytes, int] = {}
        for k, s, b in zip(keys, spent.tolist(), broken.tolist()):
            if restart:
                slot = self._batch[k][taken.get(k, 0)]
                taken[k] = taken.get(k, 0) + 1
            else:
                slot = [len(self.entries), 0]
                self.entries.append(None)
                self._batch.setdefault(k, []).append(slot)
            slot[1] += int(s)
            self.entries[slot[0]] = slot[1] if b else None


class QueryCountedAttack(EvasionAttack):
    """Base of evasion attacks that report per-point query counts
    (:attr:`advlab.results.QueryCountedResult.queries_to_success`)."""

    _query_log: QueryLog | None = None

    def _log_queries(self, x: torch.Tensor, spent: torch.Tensor, broken: torch.Tensor) -> None:
        """Record one batch (a no-op outside :meth:`run`, e.g. when called directly)."""
        if self._query_log is not None:
            self._query_log.record(x, spent, broken)

    def _execute(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        targeted: bool,
        eps: float | None,
        skip: EvasionResult | None,
    ) -> EvasionResult:
        worker = cast(QueryCountedAttack, self.clone())
        worker._query_log = QueryLog()
        res = EvasionAttack._execute(worker, target, x, y, targeted=targeted, eps=eps, skip=skip)
        if eps is None:  # a minimum-norm run has no fixed success radius: read off per eps
            return res
        base = {f.name: getattr(res, f.name) for f in fields(EvasionResult)}
        return QueryCountedResult(**base, queries_to_success=list(worker._query_log.entries))

"""Query accounting: every target call goes through a :class:`QueryMeter`."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from advlab.errors import BudgetExhausted


@dataclass
class QueryMeter:
    """Counts queries (points sent forward) and gradient calls (points sent backward).

    ``max_queries`` is an optional budget on forward points; a call that would exceed it
    raises :class:`~advlab.errors.BudgetExhausted` *before* the model is run, so the budget
    is never overspent.
    """

    max_queries: int | None = None
    queries: int = 0
    gradient_calls: int = 0
    batches: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def remaining(self) -> int | None:
        return None if self.max_queries is None else max(self.max_queries - self.queries, 0)

    def charge(self, n: int, *, gradients: bool = False) -> None:
        """Record ``n`` forward points (and ``n`` backward points when ``gradients``)."""
        with self._lock:
            if self.max_queries is not None and self.queries + n > self.max_queries:
                raise BudgetExhausted(
                    f"query budget exhausted: {self.queries} of {self.max_queries} used, "
                    f"the next call needs {n}"
                )
            self.queries += n
            self.batches += 1
            if gradients:
                self.gradient_calls += n

    def refund(self, n: int) -> None:
        """Give back the ``n`` points of the last forward call: the target refused it unanswered
        (a server's 4xx), so it cost nothing there and must cost nothing here."""
        with self._lock:
            self.queries = max(self.queries - n, 0)
            self.batches = max(self.batches - 1, 0)

    def snapshot(self) -> tuple[int, int]:
        return self.queries, self.gradient_calls

    def reset(self) -> None:
        with self._lock:
            self.queries = 0
            self.gradient_calls = 0
            self.batches = 0

"""Query accounting: every target call goes through a :class:`QueryMeter`."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from advlab.errors import BudgetExhausted
from advlab.vocab import renamed_params, warn_renamed


@dataclass
class QueryMeter:
    """Counts queries (points sent forward) and gradient calls (points sent backward).

    ``query_budget`` is an optional total budget on forward points; a call that would exceed
    it raises :class:`~advlab.errors.BudgetExhausted` *before* the model is run, so the
    budget is never overspent. (``max_queries=`` is a deprecated alias: in advlab
    ``max_queries`` is an attack's per-point budget.)
    """

    query_budget: int | None = None
    queries: int = 0
    gradient_calls: int = 0
    batches: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def remaining(self) -> int | None:
        return None if self.query_budget is None else max(self.query_budget - self.queries, 0)

    def charge(self, n: int, *, gradients: bool = False) -> None:
        """Record ``n`` forward points (and ``n`` backward points when ``gradients``)."""
        with self._lock:
            if self.query_budget is not None and self.queries + n > self.query_budget:
                raise BudgetExhausted(
                    f"query budget exhausted: {self.queries} of {self.query_budget} used, "
                    f"the next call needs {n}"
                )
            self.queries += n
            self.batches += 1
            if gradients:
                self.gradient_calls += n

    @property
    def max_queries(self) -> int | None:
        """Deprecated name of :attr:`query_budget`."""
        warn_renamed("max_queries", "query_budget", where="QueryMeter")
        return self.query_budget

    @max_queries.setter
    def max_queries(self, value: int | None) -> None:
        warn_renamed("max_queries", "query_budget", where="QueryMeter")
        self.query_budget = value

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


QueryMeter.__init__ = renamed_params(max_queries="query_budget")(QueryMeter.__init__)  # type: ignore[method-assign]

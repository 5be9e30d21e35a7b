"""Requests-per-minute and tokens-per-minute limits as token buckets (asyncio).

Each limit is a bucket refilled continuously at ``limit / 60`` units per second and holding
at most one second's worth (at least one request, or the request at hand for tokens), so a
run never exceeds the limit in any minute and spreads its requests evenly instead of
bursting a minute's worth at once. A request that needs more tokens than the bucket holds
waits until it is full and then takes the bucket into debt, which later requests wait off.

Tokens are estimated before sending (characters / 4 of the messages plus ``max_tokens``)
and corrected with the server's counts once the answer is in (:meth:`RateLimiter.settle`).
The clock and the sleep are injectable, so the limits are tested without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from advlab.errors import ConfigError

CHARS_PER_TOKEN = 4
"""The usual rule of thumb for English text with BPE tokenizers."""


class _Bucket:
    def __init__(self, per_minute: float, clock: Callable[[], float]) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self.clock = clock
        self.stamp = clock()

    def refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, need: float) -> float:
        """Seconds until ``need`` units (capped at capacity) are available (0: now)."""
        self.refill()
        target = min(need, self.capacity)
        return 0.0 if self.level >= target else (target - self.level) / self.rate


class RateLimiter:
    """Requests-per-minute and/or tokens-per-minute limits (``None``: unlimited)."""

    def __init__(
        self,
        *,
        rpm: float | None = None,
        tpm: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        for name, value in (("rpm", rpm), ("tpm", tpm)):
            if value is not None and value <= 0:
                raise ConfigError(f"{name} must be > 0 (or None for no limit), got {value}")
        self.rpm, self.tpm = rpm, tpm
        self._requests = _Bucket(rpm, clock) if rpm else None
        self._tokens = _Bucket(tpm, clock) if tpm else None
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self.waited_s = 0.0

    async def acquire(self, tokens: int = 0) -> None:
        """Wait until one more request of about ``tokens`` tokens fits the limits; take it."""
        async with self._lock:  # first come, first served
            while True:
                wait = 0.0
                if self._requests is not None:
                    wait = max(wait, self._requests.wait_for(1.0))
                if self._tokens is not None:
                    wait = max(wait, self._tokens.wait_for(float(tokens)))
                if wait <= 0:
                    break
                self.waited_s += wait
                await self._sleep(wait)
            if self._requests is not None:
                self._requests.level -= 1.0
            if self._tokens is not None:
                self._tokens.level -= float(tokens)

    def settle(self, estimated: int, actual: int | None) -> None:
        """Correct the token bucket once the server's count ``actual`` is known."""
        if self._tokens is not None and actual is not None:
            self._tokens.refill()
            self._tokens.level -= float(actual - estimated)


def estimate_tokens(texts: list[str], max_tokens: int | None) -> int:
    """A pre-send token estimate: characters / 4 of ``texts`` plus ``max_tokens``."""
    chars = sum(len(t) for t in texts)
    return -(-chars // CHARS_PER_TOKEN) + (max_tokens or 0)

"""The harness: sends many requests to one LLM target, bounded, retried, cached and resumable.

``Harness(target, ...).run(requests)`` sends each :class:`~advlab.llm.types.Request` and
returns a :class:`RunResult` whose ``attempts`` are in request order. On the way:

* **concurrency**: at most ``concurrency`` requests in flight (an asyncio semaphore, held
  for the call only, not while backing off);
* **rate limits**: requests per minute and tokens per minute (:mod:`advlab.llm.ratelimit`);
* **retries**: transient errors (429 / declared rate-limit statuses, 5xx, timeouts,
  connection errors, a garbled body) are retried ``retries`` times with exponential
  backoff ``backoff * 2**k`` (capped at ``max_backoff``) times a seeded jitter factor in
  [1 - jitter, 1]; a ``Retry-After`` from the server is honoured instead (capped at
  ``max_retry_after``). 400 / 404 / 422 and other rejections are never retried; 401 / 403
  stop the run (every request would fail alike): the attempts done are kept;
* **cache**: a successful completion is stored under its content key (target identity,
  messages, sampling parameters with the seed); a hit sends nothing;
* **journal**: each finished request is appended to a JSONL file at once; with
  ``resume=True`` a request whose id has a completed record with the same content key is
  taken from the journal and not sent again (kill -9 loses only the requests in flight);
  so is a final error (a rejected request, an answer of the wrong shape or size), while
  transient failures and refused credentials are sent again;
* **size cap**: a completion text longer than ``max_response_chars`` is cut and marked
  ``finish_reason="capped"`` (the transport refuses bodies over ``max_response_bytes``);
* **deadline**: each call has a total deadline (``deadline`` seconds, ``None``: the
  target's own);
* **progress**: a log line every ``progress_every`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advlab.errors import ConfigError
from advlab.llm.base import LLMTarget
from advlab.llm.cache import ResponseCache
from advlab.llm.errors import LLMAuthError, LLMTargetError, ServerError
from advlab.llm.journal import Journal
from advlab.llm.ratelimit import RateLimiter, estimate_tokens
from advlab.llm.types import Attempt, Completion, Request, request_key

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a run did: the attempts (request order) and its counters.

    ``sent`` counts calls made to the target (tries, retries included); ``cache_hits`` and
    ``resumed`` count requests answered without sending; ``retries`` the extra tries;
    ``stopped`` is the one-line reason when the run ended early (credentials refused).
    """

    attempts: list[Attempt]
    sent: int = 0
    retries: int = 0
    cache_hits: int = 0
    resumed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    stopped: str | None = None

    @property
    def completed(self) -> int:
        """Requests with a completion."""
        return sum(a.ok for a in self.attempts)

    @property
    def failed(self) -> int:
        """Requests that ended in an error."""
        return sum(not a.ok for a in self.attempts)

    def summary(self) -> dict[str, Any]:
        """The counters as a JSON-able dict."""
        return {
            "requests": len(self.attempts),
            "completed": self.completed,
            "failed": self.failed,
            "sent": self.sent,
            "retries": self.retries,
            "cache_hits": self.cache_hits,
            "resumed": self.resumed,
            "errors": dict(self.errors),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "wall_s": round(self.wall_s, 3),
            "stopped": self.stopped,
        }


class Harness:
    """Runs requests against one target (see the module docstring for the policy).

    Args:
        target: any :class:`~advlab.llm.base.LLMTarget`.
        concurrency: requests in flight at most (1: sequential).
        rpm / tpm: requests / tokens per minute (``None``: unlimited).
        retries: extra tries after the first for transient errors.
        backoff / max_backoff / jitter: exponential backoff base, cap (s) and jitter fraction.
        max_retry_after: the longest ``Retry-After`` honoured (longer ones are capped).
        cache: a :class:`ResponseCache`, a path to its SQLite file, or ``None``.
        journal: a :class:`Journal`, a path to its JSONL file, or ``None``.
        deadline: total seconds per call (``None``: the target's own deadline).
        max_response_chars: longest completion text kept (``None``: no cap).
        seed: seeds the backoff jitter.
        progress_every: seconds between progress log lines.
        sleep: the backoff sleep (a seam for tests).
        rate_limiter: a ready :class:`RateLimiter` (its own clock and sleep) instead of
            ``rpm`` / ``tpm``; shared by every run of this harness.
    """

    def __init__(
        self,
        target: LLMTarget,
        *,
        concurrency: int = 4,
        rpm: float | None = None,
        tpm: float | None = None,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        jitter: float = 0.5,
        max_retry_after: float = 60.0,
        cache: ResponseCache | str | Path | None = None,
        journal: Journal | str | Path | None = None,
        deadline: float | None = None,
        max_response_chars: int | None = 200_000,
        seed: int = 0,
        progress_every: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        if concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {concurrency}")
        if retries < 0 or backoff < 0 or max_backoff < 0 or max_retry_after < 0:
            raise ConfigError("retries, backoff, max_backoff and max_retry_after must be >= 0")
        if not 0.0 <= jitter <= 1.0:
            raise ConfigError(f"jitter must be in [0, 1], got {jitter}")
        if max_response_chars is not None and max_response_chars < 1:
            raise ConfigError("max_response_chars must be >= 1 (or None)")
        self.target = target
        self.concurrency = concurrency
        self.rpm, self.tpm = rpm, tpm
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self.jitter, self.max_retry_after = jitter, max_retry_after
        self.cache = ResponseCache(cache) if isinstance(cache, (str, Path)) else cache
        self.journal = Journal(journal) if isinstance(journal, (str, Path)) else journal
        self.deadline = deadline
        self.max_response_chars = max_response_chars
        self.seed = seed
        self.progress_every = progress_every
        self._sleep = sleep
        self.rate_limiter = rate_limiter

    def __repr__(self) -> str:
        return f"Harness({self.target!r}, concurrency={self.concurrency})"

    # ------------------------------------------------------------------ public
    def run(
        self, requests: Iterable[Request], *, resume: bool = True, retry_failed: bool = False
    ) -> RunResult:
        """Blocking :meth:`arun`."""
        return asyncio.run(self.arun(requests, resume=resume, retry_failed=retry_failed))

    async def arun(
        self, requests: Iterable[Request], *, resume: bool = True, retry_failed: bool = False
    ) -> RunResult:
        """Send every request not already done; the attempts come back in request order.

        With ``resume`` (and a journal) a request with a final record of the same content
        (a completion, or an error sending again cannot fix) is taken from the journal;
        ``retry_failed`` resends the final errors too.
        """
        todo = list(requests)
        ids = [r.id for r in todo]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ConfigError(f"request ids must be unique in a run; {dup!r} repeats")
        done = self.journal.load() if (self.journal is not None and resume) else {}
        self._limiter = self.rate_limiter or RateLimiter(rpm=self.rpm, tpm=self.tpm)
        self._sem = asyncio.Semaphore(self.concurrency)
        self._rng = random.Random(self.seed)
        self._stop: str | None = None
        result = RunResult(attempts=[])
        self._result = result
        self._finished = 0
        self._total = len(todo)
        start = time.perf_counter()
        self._last_log = start
        identity = self.target.identity
        try:
            slots = await asyncio.gather(
                *(self._one(r, identity, done.get(r.id), resume, retry_failed) for r in todo)
            )
        finally:
            if self.journal is not None:
                self.journal.close()
            aclose = getattr(self.target, "aclose", None)
            if aclose is not None:
                await aclose()
        result.attempts = [a for a in slots if a is not None]
        result.stopped = self._stop
        result.wall_s = time.perf_counter() - start
        for a in result.attempts:
            if a.completion is not None and not a.cached:
                result.prompt_tokens += a.completion.prompt_tokens or 0
                result.completion_tokens += a.completion.completion_tokens or 0
        log.info("harness: finished %s", result.summary())
        return result

    # ------------------------------------------------------------------ one request
    async def _one(
        self,
        req: Request,
        identity: str,
        previous: Attempt | None,
        resume: bool,
        retry_failed: bool,
    ) -> Attempt | None:
        key = request_key(identity, req.messages, req.params)
        keep = previous is not None and previous.final and (previous.ok or not retry_failed)
        if resume and keep and previous is not None and previous.cache_key == key:
            self._result.resumed += 1
            self._progress()
            return previous
        base: dict[str, Any] = {
            "request_id": req.id,
            "probe_id": req.probe_id,
            "target": identity,
            "messages": list(req.messages),
            "params": req.params,
            "cache_key": key,
            "meta": req.meta,
            "started_at": time.time(),
        }
        t0 = time.perf_counter()
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self._result.cache_hits += 1
                return self._finish(Attempt(status="ok", completion=hit, cached=True, **base))
        completion, error, tries = await self._send(req)
        if self._stop is not None and tries == 0:
            return None  # never sent: the run stopped first
        wall = time.perf_counter() - t0
        if completion is not None:
            completion = self._cap(completion)
            if self.cache is not None:
                self.cache.put(key, identity, completion)
            attempt = Attempt(status="ok", completion=completion, tries=tries, wall_s=wall, **base)
        else:
            assert error is not None
            self._result.errors[getattr(error, "kind", "error")] += 1
            attempt = Attempt(
                status="error",
                error=str(error),
                error_kind=getattr(error, "kind", "error"),
                final=not (getattr(error, "transient", False) or isinstance(error, LLMAuthError)),
                tries=tries,
                wall_s=wall,
                **base,
            )
        return self._finish(attempt)

    def _finish(self, attempt: Attempt) -> Attempt:
        if self.journal is not None:
            self.journal.append(attempt)
        self._progress()
        return attempt

    def _cap(self, completion: Completion) -> Completion:
        limit = self.max_response_chars
        if limit is None or len(completion.text) <= limit:
            return completion
        return completion.model_copy(
            update={"text": completion.text[:limit], "finish_reason": "capped"}
        )

    async def _send(self, req: Request) -> tuple[Completion | None, Exception | None, int]:
        messages = list(req.messages)
        estimate = estimate_tokens([m.content for m in messages], req.params.max_tokens)
        tries = 0
        while True:
            if self._stop is not None:
                return None, LLMAuthError(self._stop), tries
            await self._limiter.acquire(estimate)
            async with self._sem:
                if self._stop is not None:
                    return None, LLMAuthError(self._stop), tries
                tries += 1
                self._result.sent += 1
                try:
                    call = self.target.acomplete(messages, req.params)
                    if self.deadline is not None:
                        completion = await asyncio.wait_for(call, self.deadline)
                    else:
                        completion = await call
                except TimeoutError:
                    error: Exception = ServerError(
                        f"no answer within the {self.deadline:g}s deadline"
                    )
                except LLMAuthError as exc:
                    self._stop = self._stop or str(exc)
                    return None, exc, tries
                except LLMTargetError as exc:
                    error = exc
                else:
                    self._limiter.settle(estimate, completion.tokens_used())
                    return completion, None, tries
            if not getattr(error, "transient", False) or tries > self.retries:
                return None, error, tries
            delay = self._delay(tries - 1, getattr(error, "retry_after", None))
            self._result.retries += 1
            log.debug("request %s: %s; retry %d in %.2fs", req.id, error, tries, delay)
            await self._sleep(delay)

    def _delay(self, k: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        base = min(self.backoff * 2**k, self.max_backoff)
        return base * (1.0 - self.jitter * self._rng.random())

    def _progress(self) -> None:
        self._finished += 1
        now = time.perf_counter()
        if now - self._last_log >= self.progress_every or self._finished == self._total:
            self._last_log = now
            r = self._result
            log.info(
                "harness: %d/%d done (%d resumed, %d cached, %d sent, %d retries, errors %s)",
                self._finished,
                self._total,
                r.resumed,
                r.cache_hits,
                r.sent,
                r.retries,
                dict(r.errors) or "none",
            )

"""The errors of LLM targets, classified for the harness's retry policy.

* :class:`RateLimited` (HTTP 429, or a status the user declared as "rate limited") and
  :class:`ServerError` (5xx, connection errors, timeouts, a passed deadline) are *transient*:
  the harness retries them with backoff, honouring ``retry_after`` when the server gave one;
* :class:`LLMAuthError` (401/403) and :class:`RequestRejected` (other 4xx: unknown model,
  a bad request) are never retried;
* :class:`BadCompletion` is an answer that is not a valid completion (not JSON, wrong
  shape, not UTF-8, over the size limit); ``transient`` says whether retrying may help
  (a truncated or garbled body may; an oversized one will not).

All derive from :class:`advlab.errors.TargetUnavailable` (or :class:`advlab.errors.AccessError`
for credentials) and carry one-line, redacted messages.
"""

from __future__ import annotations

from advlab.errors import AccessError, TargetUnavailable
from advlab.secrets import redact


def _line(text: str, limit: int = 300) -> str:
    flat = " ".join(redact(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class LLMTargetError(TargetUnavailable):
    """Base of the transport errors of LLM targets; ``status`` is the HTTP status (0: none)."""

    transient = False
    kind = "error"

    def __init__(self, message: str, *, status: int = 0, retry_after: float | None = None) -> None:
        super().__init__(_line(message))
        self.status = status
        self.retry_after = retry_after


class RateLimited(LLMTargetError):
    """The endpoint said "slow down" (429 or a declared status); retried."""

    transient = True
    kind = "rate_limited"


class ServerError(LLMTargetError):
    """5xx, a connection error, a timeout or a passed deadline; retried."""

    transient = True
    kind = "server_error"


class RequestRejected(LLMTargetError):
    """A 4xx other than 401/403/429: the request itself is wrong (never retried)."""

    kind = "rejected"


class BadCompletion(LLMTargetError):
    """The endpoint answered, but not with a valid completion."""

    kind = "bad_answer"

    def __init__(self, message: str, *, transient: bool = True, status: int = 200) -> None:
        super().__init__(message, status=status)
        self.transient = transient


class LLMAuthError(AccessError):
    """The endpoint refused the credentials (401/403); never retried."""

    transient = False
    kind = "auth"

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(_line(message))
        self.status = status
        self.retry_after: float | None = None

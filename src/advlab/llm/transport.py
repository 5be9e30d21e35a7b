"""One HTTP JSON exchange for LLM targets: bounded in time and size, errors classified.

:class:`HttpTransport` posts a JSON body with httpx (async) and returns the decoded JSON
answer, or raises one of :mod:`advlab.llm.errors`:

* the whole attempt (connect, send, headers, body) has a total ``deadline``; passing it,
  a timeout or a connection error is a :class:`~advlab.llm.errors.ServerError`;
* 429 and the statuses in ``rate_limit_statuses`` are :class:`RateLimited` (``Retry-After``
  in seconds is kept); 5xx is :class:`ServerError`; 401/403 :class:`LLMAuthError`; other
  4xx :class:`RequestRejected`; the error text of the body is cut to one redacted line;
* a body over ``max_response_bytes`` is a non-transient :class:`BadCompletion`; a body that
  is not UTF-8 or not JSON a transient one (a server may garble one answer).

Retrying is the harness's job (:mod:`advlab.llm.harness`): a transport call is one attempt.
The API key is read from the environment variable the user names, registered with
:mod:`advlab.secrets` (so it is redacted from every log record and message) and sent only
as a header; it is never part of :meth:`identity`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
from typing import Any

from advlab import secrets
from advlab.errors import ConfigError
from advlab.llm.errors import (
    BadCompletion,
    LLMAuthError,
    RateLimited,
    RequestRejected,
    ServerError,
)

log = logging.getLogger(__name__)

_INSTALL_HINT = "httpx is not installed; install it with: pip install 'advlab[http]'"
_ERROR_BODY_BYTES = 16 * 1024


def import_httpx() -> Any:
    """httpx, or an ImportError that says how to install it."""
    try:
        import httpx
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return httpx


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (an HTTP date or garbage gives ``None``)."""
    if value is None:
        return None
    try:
        s = float(value)
    except ValueError:
        return None
    return s if math.isfinite(s) and s >= 0 else None


def read_api_key(env: str | None) -> str | None:
    """The API key in environment variable ``env`` (registered as a secret), or ``None``."""
    if not env:
        return None
    value = os.environ.get(env)
    if not value:
        raise ConfigError(f"environment variable {env} (the API key) is not set or empty")
    secrets.register(value)
    return value


def _error_text(body: bytes) -> str:
    text = body[:_ERROR_BODY_BYTES].decode("utf-8", "replace")
    try:
        doc = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(doc, dict):
        err = doc.get("error", doc.get("detail", doc))
        if isinstance(err, dict):
            err = err.get("message", err)
        return str(err)[:200]
    return str(doc)[:200]


class HttpTransport:
    """Posts JSON to one base URL; one instance per target, one httpx client per event loop.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1``.
        api_key_env: environment variable with the key, sent as ``Authorization: Bearer``.
        headers: extra headers (values of credential-like names are kept secret).
        timeout: seconds per network operation; deadline: total seconds per attempt.
        max_response_bytes: the largest answer accepted.
        rate_limit_statuses: statuses that mean "rate limited" besides 429.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key_env: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
        deadline: float | None = None,
        max_response_bytes: int = 4 * 1024 * 1024,
        rate_limit_statuses: tuple[int, ...] = (),
    ) -> None:
        if timeout <= 0 or (deadline is not None and deadline <= 0):
            raise ConfigError("timeout and deadline must be > 0 seconds")
        if max_response_bytes < 1:
            raise ConfigError("max_response_bytes must be >= 1")
        self.base_url = base_url.rstrip("/")
        secrets.register_url(self.base_url)
        self.timeout = timeout
        self.deadline = deadline if deadline is not None else timeout
        self.max_response_bytes = max_response_bytes
        self.rate_limit_statuses = frozenset((429, *rate_limit_statuses))
        self._headers = {"content-type": "application/json", **(headers or {})}
        secrets.register_headers(self._headers)
        key = read_api_key(api_key_env)
        if key:
            self._headers["authorization"] = f"Bearer {key}"
        self._client_of: tuple[Any, Any] | None = None  # (event loop, httpx client)

    def __repr__(self) -> str:
        return f"HttpTransport({secrets.safe_url(self.base_url)!r})"

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        held = self._client_of
        if held is not None and held[0] is loop and not held[1].is_closed:
            return held[1]
        httpx = import_httpx()
        client = httpx.AsyncClient(timeout=self.timeout, headers=self._headers)
        self._client_of = (loop, client)  # a client belongs to the loop that made it
        return client

    async def aclose(self) -> None:
        """Close the client (one made on another, finished event loop is dropped)."""
        held, self._client_of = self._client_of, None
        if held is None:
            return
        if held[0] is asyncio.get_running_loop():
            await held[1].aclose()
        else:
            log.debug("dropped an httpx client of another event loop")

    async def post_json(self, path: str, body: dict[str, Any]) -> tuple[Any, int]:
        """POST ``body`` to ``base_url + path``; the decoded JSON answer and its size in bytes."""
        try:
            return await asyncio.wait_for(self._post(path, body), timeout=self.deadline)
        except TimeoutError:
            raise ServerError(
                f"no complete answer within the {self.deadline:g}s deadline"
            ) from None

    async def get_json(self, path: str) -> Any:
        """GET ``base_url + path`` (e.g. ``/models``), decoded."""
        try:
            return (await asyncio.wait_for(self._send("GET", path, None), self.deadline))[0]
        except TimeoutError:
            raise ServerError(
                f"no complete answer within the {self.deadline:g}s deadline"
            ) from None

    async def _post(self, path: str, body: dict[str, Any]) -> tuple[Any, int]:
        return await self._send("POST", path, body)

    async def _send(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[Any, int]:
        httpx = import_httpx()
        url = self.base_url + path
        where = f"{method} {secrets.safe_url(url)}"
        try:
            async with self._client().stream(method, url, json=body) as resp:
                status = resp.status_code
                if status >= 400:
                    raw = await self._read(resp, _ERROR_BODY_BYTES, where, strict=False)
                    self._raise_status(status, resp.headers.get("retry-after"), raw, where)
                raw = await self._read(resp, self.max_response_bytes, where, strict=True)
        except httpx.TimeoutException as exc:
            raise ServerError(f"{where}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise ServerError(f"{where}: {type(exc).__name__}: {exc}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadCompletion(f"{where}: the answer is not UTF-8") from None
        try:
            return json.loads(text), len(raw)
        except (ValueError, RecursionError):
            raise BadCompletion(f"{where}: the answer is not JSON: {text[:60]!r}") from None

    async def _read(self, resp: Any, limit: int, where: str, *, strict: bool) -> bytes:
        declared = resp.headers.get("content-length", "")
        if strict and "content-encoding" not in resp.headers and declared.isdigit():
            if int(declared) > limit:
                raise BadCompletion(
                    f"{where}: the answer is {declared} bytes; the limit is {limit}",
                    transient=False,
                )
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            chunks.append(chunk)
            if size > limit:
                if strict:
                    raise BadCompletion(
                        f"{where}: the answer is over {limit} bytes (max_response_bytes)",
                        transient=False,
                    )
                break
        return b"".join(chunks)

    def _raise_status(self, status: int, retry_after: str | None, raw: bytes, where: str) -> None:
        message = f"{where}: HTTP {status}: {_error_text(raw)}"
        if status in self.rate_limit_statuses:
            raise RateLimited(message, status=status, retry_after=retry_after_seconds(retry_after))
        if status in (401, 403):
            raise LLMAuthError(message, status=status)
        if status >= 500:
            raise ServerError(message, status=status, retry_after=retry_after_seconds(retry_after))
        raise RequestRejected(message, status=status)

"""Black-box adapter for a JSON prediction endpoint (for example ``advlab serve``).

Protocol: ``POST {url}`` with ``{"inputs": [...nested lists, one per point...]}``; the server
answers ``{"outputs": [[...scores...], ...]}`` (probabilities or logits) and/or
``{"labels": [...]}``. Answers are decoded strictly (:mod:`advlab.targets.http_answer`):
NaN, null, strings, ragged rows or a body that cannot be decoded raise
:class:`~advlab.targets.http_answer.BadAnswer`, never a wrong number.

Transport policy, bounded in count, time and size:

* every attempt has a total ``deadline`` (seconds; default ``timeout``), checked while the
  body arrives, besides httpx's ``timeout`` per network operation: a server that drips its
  answer is cut off; an answer over ``max_response_bytes`` (after decompression) is refused;
* 5xx answers, connection errors and timeouts are retried ``retries`` times with exponential
  backoff (``backoff * 2**k`` seconds, capped at ``max_backoff``);
* 429 (rate limited) is retried too, honouring ``Retry-After`` (capped at ``max_backoff``),
  except when the server says the client's query quota is spent
  (``{"code": "query_limit"}``): that raises :class:`~advlab.errors.BudgetExhausted`, so an
  attack stops early and reports it;
* 401/403 are never retried (:class:`HttpAuthError`); other 4xx raise at once. A refused
  request (4xx) is given back to the query meter: it cost nothing on the server either.

After the last retry :class:`~advlab.errors.TargetUnavailable` is raised; evasion attacks
catch it and return their partial result, marked stopped early.

Secrets: the API key (read from an environment variable, ``ADVLAB_API_KEY`` by default,
sent as ``Authorization: Bearer ...``), sensitive headers and sensitive URL query values are
registered with :mod:`advlab.secrets`; they never appear in ``repr``, :meth:`describe`, log
records (advlab's, httpx's or httpcore's) or exception messages, even when a server echoes
them back.
"""

from __future__ import annotations

import logging
import math
import os
import time
from typing import Any
from urllib.parse import urlsplit

import torch

from advlab import secrets
from advlab.access import Access
from advlab.errors import (
    AccessError,
    AdvlabError,
    BudgetExhausted,
    ConfigError,
    InputError,
    TargetUnavailable,
)
from advlab.secrets import safe_url
from advlab.targets import http_answer
from advlab.targets.base import BoundsLike, OutputKind, Target
from advlab.targets.http_answer import BadAnswer
from advlab.utils import resolve_device
from advlab.vocab import renamed_params

__all__ = ["BadAnswer", "HttpAuthError", "HttpClassifier", "TargetUnavailable", "safe_url"]

log = logging.getLogger(__name__)

_INSTALL_HINT = "httpx is not installed; install it with: pip install 'advlab[http]'"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_ERROR_BODY_BYTES = 64 * 1024  # an error answer is read this far: enough for its message


class HttpAuthError(AccessError):
    """The endpoint refused the credentials (HTTP 401/403); never retried."""


class _DeadlineExceeded(Exception):
    """Internal: the attempt's total deadline passed while the answer was arriving."""


def _import_httpx() -> Any:
    try:
        import httpx
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return httpx


def _sleep(seconds: float) -> None:  # a seam for tests
    time.sleep(seconds)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        s = float(value)
    except ValueError:  # an HTTP date: not worth parsing, fall back to our own backoff
        return None
    return s if math.isfinite(s) and s >= 0 else None


def _read_body(resp: Any, deadline: float, limit: int, *, where: str, strict: bool) -> bytes:
    """The (decoded) body, within ``deadline`` and ``limit`` bytes.

    Over the limit: :class:`BadAnswer` when ``strict`` (a prediction), else the body is cut
    (an error message). Past the deadline: :class:`_DeadlineExceeded`.
    """
    declared = resp.headers.get("content-length", "")
    encoded = "content-encoding" in resp.headers  # the declared length is the encoded one
    if strict and not encoded and declared.isdigit() and int(declared) > limit:
        raise BadAnswer(f"{where}: the answer is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.iter_bytes():
        size += len(chunk)
        chunks.append(chunk)
        if size > limit:
            if strict:
                raise BadAnswer(f"{where}: the answer is over {limit} bytes (max_response_bytes)")
            break
        if time.monotonic() > deadline:
            raise _DeadlineExceeded
    return b"".join(chunks)


class HttpClassifier(Target):
    """A classifier behind an HTTP JSON endpoint (black-box).

    Args:
        url: the prediction endpoint, e.g. ``http://127.0.0.1:8000/predict``.
        input_shape / num_classes: one input's shape (no batch dimension) and the classes.
        bounds: the valid input range.
        returns: what the server's answer is used as: ``"probs"`` or ``"logits"`` (scores
            access, from ``outputs``) or ``"labels"`` (label access).
        api_key_env: environment variable holding the API key (``None``: never send one).
        timeout: seconds per network operation (connect, send, each read);
        deadline: total seconds per attempt, answer included (default: ``timeout``); checked
            as the body arrives, so an attempt ends at most one read ``timeout`` after it;
        retries: extra attempts after the first;
        backoff / max_backoff: exponential backoff base and cap, in seconds.
        headers: extra HTTP headers (values of credential-like headers are kept secret).
        max_response_bytes: the largest answer accepted (after decompression).
        device: where returned tensors live; query_budget: optional total budget (points;
            deprecated alias ``max_queries``);
        batch_size: points per request.

    Use :meth:`from_server` to read the shape, classes, bounds and access from an
    ``advlab serve`` server's ``/info``. Counters: :attr:`requests` (HTTP attempts made) and
    :attr:`retries_used`.
    """

    @renamed_params(max_queries="query_budget")
    def __init__(
        self,
        url: str,
        *,
        input_shape: tuple[int, ...],
        num_classes: int,
        bounds: BoundsLike = (0.0, 1.0),
        returns: str = "probs",
        api_key_env: str | None = "ADVLAB_API_KEY",
        timeout: float = 10.0,
        deadline: float | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        headers: dict[str, str] | None = None,
        max_response_bytes: int = 64 * 1024 * 1024,
        device: str | torch.device = "cpu",
        query_budget: int | None = None,
        batch_size: int = 256,
    ) -> None:
        httpx = _import_httpx()
        secrets.register_url(url)  # first: every message below may name the URL
        if returns not in ("probs", "logits", "labels"):
            raise ConfigError(f"returns must be 'probs', 'logits' or 'labels', got {returns!r}")
        if not isinstance(retries, int) or retries < 0:
            raise ConfigError(f"retries must be an integer >= 0, got {retries!r}")
        limits = (timeout, backoff, max_backoff, timeout if deadline is None else deadline)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in limits):
            raise ConfigError("timeout, deadline, backoff and max_backoff must be finite numbers")
        if (
            timeout <= 0
            or backoff < 0
            or max_backoff < 0
            or (deadline is not None and deadline <= 0)
        ):
            raise ConfigError("timeout and deadline must be > 0 and backoff, max_backoff >= 0")
        if not isinstance(max_response_bytes, int) or max_response_bytes < 1:
            raise ConfigError(
                f"max_response_bytes must be an integer >= 1, got {max_response_bytes!r}"
            )
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"url must be an http(s) URL with a host, got {safe_url(url)!r}")
        self.url = url
        self.returns = returns
        self.access = Access.LABELS if returns == "labels" else Access.SCORES
        out: OutputKind = "logits" if returns == "logits" else "probs"
        self.output = out
        self.timeout = float(timeout)
        self.deadline = float(timeout if deadline is None else deadline)
        self.retries = retries
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_response_bytes = max_response_bytes
        self.api_key_env = api_key_env
        self.requests = 0
        self.retries_used = 0
        hdrs = {"Content-Type": "application/json", "Accept": "application/json"}
        hdrs.update(headers or {})
        key = os.environ.get(api_key_env) if api_key_env else None
        self._has_key = bool(key)
        if key:
            secrets.register(key)
            hdrs["Authorization"] = f"Bearer {key}"
            if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
                log.warning("sending an API key over plain http to %s; use https", parts.hostname)
        elif api_key_env:
            log.debug("no API key: environment variable %s is not set", api_key_env)
        secrets.register_headers(hdrs)
        # the key lives only inside the client's headers; never in attributes we print
        try:
            self._client = httpx.Client(headers=hdrs, timeout=self.timeout, follow_redirects=False)
        except (UnicodeEncodeError, TypeError):
            raise ConfigError(
                "headers must map ASCII strings to ASCII strings (HTTP header names and values)"
            ) from None
        super().__init__(
            bounds=bounds,
            input_shape=input_shape,
            num_classes=num_classes,
            device=resolve_device(device),
            query_budget=query_budget,
            batch_size=batch_size,
        )

    @classmethod
    def from_server(cls, base_url: str, **kwargs: Any) -> HttpClassifier:
        """Build a client for an ``advlab serve`` server from its ``GET /info``.

        ``base_url`` is the server root (``http://127.0.0.1:8000``); keyword arguments
        override what ``/info`` says (and set timeouts, retries, budget...).
        """
        base = base_url.rstrip("/")
        probe = cls(
            base + "/predict",
            input_shape=(1,),
            num_classes=1,
            **{k: v for k, v in kwargs.items() if k not in ("input_shape", "num_classes")},
        )
        try:
            info = probe._request("GET", base + "/info", None)
        finally:
            probe.close()
        try:
            opts: dict[str, Any] = {
                "input_shape": tuple(int(d) for d in info["input_shape"]),
                "num_classes": int(info["num_classes"]),
                "bounds": tuple(float(b) for b in info.get("bounds", (0.0, 1.0))),
                "returns": "labels"
                if info.get("access") == "labels"
                else str(info.get("output", "probs")),
            }
            if info.get("max_batch"):
                batch = min(int(kwargs.get("batch_size", 256)), int(info["max_batch"]))
                opts["batch_size"] = batch
        except (KeyError, TypeError, ValueError, OverflowError):
            raise BadAnswer(
                f"{safe_url(base)}/info is not an advlab server description "
                f"(got {http_answer.excerpt(info)}); pass input_shape and num_classes yourself"
            ) from None
        opts.update(kwargs)
        return cls(base + "/predict", **opts)

    # ------------------------------------------------------------------ transport
    def _request(self, method: str, url: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        """One logical request with bounded retries; returns the decoded JSON object."""
        where = safe_url(url)
        attempts = self.retries + 1
        last = ""
        for attempt in range(1, attempts + 1):
            self.requests += 1
            status, raw, delay, last = self._attempt(method, url, payload, where)
            if status is not None and status < 300:
                return http_answer.decode_json(raw, where)
            if attempt == attempts:
                break
            if delay is None:
                delay = self.backoff * 2 ** (attempt - 1)
            delay = min(delay, self.max_backoff)
            self.retries_used += 1
            log.info("%s: %s; retry %d/%d in %.2fs", where, last, attempt, self.retries, delay)
            _sleep(delay)
        raise TargetUnavailable(f"{where}: {last} (gave up after {attempts} attempt(s))")

    def _attempt(
        self, method: str, url: str, payload: dict[str, Any] | None, where: str
    ) -> tuple[int | None, bytes, float | None, str]:
        """One HTTP attempt: (status or None, body, retry delay, what went wrong).

        Raises at once for answers that retrying cannot fix (4xx, undecodable bodies).
        """
        httpx = _import_httpx()
        deadline = time.monotonic() + self.deadline
        try:
            with self._client.stream(method, url, json=payload) as resp:
                status = resp.status_code
                ok = status < 300
                limit = self.max_response_bytes if ok else _ERROR_BODY_BYTES
                raw = _read_body(resp, deadline, limit, where=where, strict=ok)
                headers = resp.headers
        except _DeadlineExceeded:
            return None, b"", None, f"no complete answer within the {self.deadline:g}s deadline"
        except httpx.TimeoutException:
            return None, b"", None, f"timed out after {self.timeout:g}s"
        except httpx.DecodingError as exc:
            raise BadAnswer(
                f"{where}: the answer body could not be decoded "
                f"({http_answer.one_line(secrets.redact(str(exc)))[:120]}); "
                "check its Content-Encoding"
            ) from None
        except (httpx.TransportError, httpx.StreamError) as exc:
            detail = http_answer.one_line(secrets.redact(f"{type(exc).__name__}: {exc}"))[:200]
            return None, b"", None, f"connection failed ({detail})"
        if ok:
            return status, raw, None, ""
        message, code = http_answer.server_message(raw, resp.reason_phrase)
        if status in (401, 403):
            raise HttpAuthError(
                f"{where} refused the request with HTTP {status} ({message}); check the "
                f"API key in ${self.api_key_env or '(no api_key_env set)'}"
                + ("" if self._has_key else " (it is not set)")
            )
        if status == 429:
            if code == "query_limit":
                raise BudgetExhausted(f"{where}: the server's query limit is spent ({message})")
            delay = _retry_after(headers.get("Retry-After"))
            return status, raw, delay, f"HTTP 429 rate limited ({message})"
        if status >= 500:
            return status, raw, None, f"HTTP {status} ({message})"
        if status == 413:
            raise InputError(f"{where}: request too large ({message}); lower batch_size")
        if status == 422:
            raise InputError(f"{where} rejected the inputs: {message}")
        raise AdvlabError(f"{where} answered HTTP {status} ({message})")

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        n = len(x)
        try:
            body = self._request("POST", self.url, {"inputs": x.detach().cpu().tolist()})
        except TargetUnavailable:
            raise  # no answer or a malformed one: the server may have charged the points
        except AdvlabError:
            self.meter.refund(n)  # refused unanswered (4xx): the server charged nothing either
            raise
        where = safe_url(self.url)
        k = self.num_classes
        if self.returns == "labels":
            if "labels" in body:
                lab = http_answer.labels(body["labels"], n, k, where=where)
            elif "outputs" in body:
                lab = http_answer.scores(body["outputs"], n, k, probs=False, where=where)
                lab = lab.argmax(axis=1)
            else:
                raise BadAnswer(f"{where}: the answer has neither 'labels' nor 'outputs'")
            out = torch.nn.functional.one_hot(torch.from_numpy(lab), k).float()
        else:
            if "outputs" not in body:
                if "labels" in body:
                    raise AccessError(
                        f"{where} returns labels only; use HttpClassifier(..., returns='labels')"
                    )
                raise BadAnswer(f"{where}: the answer has no 'outputs'")
            probs = self.returns == "probs"
            out = torch.from_numpy(
                http_answer.scores(body["outputs"], n, k, probs=probs, where=where)
            )
        return out.to(self.device)

    # ------------------------------------------------------------------ housekeeping
    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> HttpClassifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(
            url=safe_url(self.url),
            returns=self.returns,
            timeout=self.timeout,
            deadline=self.deadline,
            retries=self.retries,
            api_key="***" if self._has_key else None,
            api_key_env=self.api_key_env,
        )
        return d

    def __repr__(self) -> str:
        return (
            f"HttpClassifier(url={safe_url(self.url)!r}, returns={self.returns!r}, "
            f"input_shape={self.input_shape}, num_classes={self.num_classes}, "
            f"api_key={'***' if self._has_key else None})"
        )

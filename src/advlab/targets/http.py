"""Black-box adapter for a JSON prediction endpoint (for example ``advlab serve``).

Protocol: ``POST {url}`` with ``{"inputs": [...nested lists, one per point...]}``; the server
answers ``{"outputs": [[...scores...], ...]}`` (probabilities or logits) and/or
``{"labels": [...]}``.

Transport policy, bounded in count and time:

* every request has a ``timeout`` (seconds);
* 5xx answers, connection errors and timeouts are retried ``retries`` times with exponential
  backoff (``backoff * 2**k`` seconds, capped at ``max_backoff``);
* 429 (rate limited) is retried too, honouring ``Retry-After`` (capped at ``max_backoff``),
  except when the server says the client's query quota is spent
  (``{"code": "query_limit"}``): that raises :class:`~advlab.errors.BudgetExhausted`, so an
  attack stops early and reports it;
* 401/403 are never retried (:class:`HttpAuthError`); other 4xx raise at once.

The API key is read from an environment variable (``ADVLAB_API_KEY`` by default) and sent
as ``Authorization: Bearer ...``; it never appears in ``repr``, :meth:`describe`, logs or
exception messages.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import torch

from advlab.access import Access
from advlab.errors import AccessError, AdvlabError, BudgetExhausted, ConfigError, InputError
from advlab.targets.base import BoundsLike, OutputKind, Target
from advlab.utils import resolve_device
from advlab.vocab import renamed_params

log = logging.getLogger(__name__)

_INSTALL_HINT = "httpx is not installed; install it with: pip install 'advlab[http]'"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class HttpAuthError(AccessError):
    """The endpoint refused the credentials (HTTP 401/403); never retried."""


class TargetUnavailable(AdvlabError):
    """The endpoint could not be reached or kept failing after all retries."""


def _import_httpx() -> Any:
    try:
        import httpx
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return httpx


def safe_url(url: str) -> str:
    """``url`` without credentials: userinfo and query values are replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        query = "&".join(f"{kv.split('=', 1)[0]}=***" for kv in query.split("&"))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


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


class HttpClassifier(Target):
    """A classifier behind an HTTP JSON endpoint (black-box).

    Args:
        url: the prediction endpoint, e.g. ``http://127.0.0.1:8000/predict``.
        input_shape / num_classes: one input's shape (no batch dimension) and the classes.
        bounds: the valid input range.
        returns: what the server's answer is used as: ``"probs"`` or ``"logits"`` (scores
            access, from ``outputs``) or ``"labels"`` (label access).
        api_key_env: environment variable holding the API key (``None``: never send one).
        timeout: seconds per request; retries: extra attempts after the first;
        backoff / max_backoff: exponential backoff base and cap, in seconds.
        headers: extra HTTP headers.
        device: where returned tensors live; query_budget: optional total budget (points; deprecated alias ``max_queries``);
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
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        headers: dict[str, str] | None = None,
        device: str | torch.device = "cpu",
        query_budget: int | None = None,
        batch_size: int = 256,
    ) -> None:
        httpx = _import_httpx()
        if returns not in ("probs", "logits", "labels"):
            raise ConfigError(f"returns must be 'probs', 'logits' or 'labels', got {returns!r}")
        if not isinstance(retries, int) or retries < 0:
            raise ConfigError(f"retries must be an integer >= 0, got {retries!r}")
        if timeout <= 0 or backoff < 0 or max_backoff < 0:
            raise ConfigError("timeout must be > 0 and backoff, max_backoff >= 0")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"url must be an http(s) URL with a host, got {safe_url(url)!r}")
        self.url = url
        self.returns = returns
        self.access = Access.LABELS if returns == "labels" else Access.SCORES
        out: OutputKind = "logits" if returns == "logits" else "probs"
        self.output = out
        self.timeout = float(timeout)
        self.retries = retries
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.api_key_env = api_key_env
        self.requests = 0
        self.retries_used = 0
        hdrs = {"Content-Type": "application/json", "Accept": "application/json"}
        hdrs.update(headers or {})
        key = os.environ.get(api_key_env) if api_key_env else None
        self._has_key = bool(key)
        if key:
            hdrs["Authorization"] = f"Bearer {key}"
            if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
                log.warning("sending an API key over plain http to %s; use https", parts.hostname)
        elif api_key_env:
            log.debug("no API key: environment variable %s is not set", api_key_env)
        # the key lives only inside the client's headers; never in attributes we print
        self._client = httpx.Client(headers=hdrs, timeout=self.timeout, follow_redirects=False)
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
        opts: dict[str, Any] = {
            "input_shape": tuple(info["input_shape"]),
            "num_classes": int(info["num_classes"]),
            "bounds": tuple(info.get("bounds", (0.0, 1.0))),
            "returns": "labels" if info.get("access") == "labels" else info.get("output", "probs"),
        }
        if info.get("max_batch"):
            opts["batch_size"] = min(int(kwargs.get("batch_size", 256)), int(info["max_batch"]))
        opts.update(kwargs)
        return cls(base + "/predict", **opts)

    # ------------------------------------------------------------------ transport
    def _request(self, method: str, url: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        """One logical request with bounded retries; returns the decoded JSON body."""
        httpx = _import_httpx()
        where = safe_url(url)
        attempts = self.retries + 1
        last = ""
        for attempt in range(1, attempts + 1):
            delay: float | None = None
            self.requests += 1
            try:
                resp = self._client.request(method, url, json=payload)
            except httpx.TimeoutException:
                last = f"timed out after {self.timeout:g}s"
            except httpx.TransportError as exc:
                last = f"connection failed ({type(exc).__name__}: {exc})"
            else:
                status = resp.status_code
                if status < 300:
                    try:
                        body = resp.json()
                    except (ValueError, json.JSONDecodeError) as exc:
                        raise TargetUnavailable(f"{where}: the answer is not JSON") from exc
                    if not isinstance(body, dict):
                        raise TargetUnavailable(
                            f"{where}: expected a JSON object, got {body!r:.80}"
                        )
                    return body
                message = _error_message(resp)
                if status in (401, 403):
                    raise HttpAuthError(
                        f"{where} refused the request with HTTP {status} ({message}); check the "
                        f"API key in ${self.api_key_env or '(no api_key_env set)'}"
                        + ("" if self._has_key else " (it is not set)")
                    )
                if status == 429:
                    if _error_code(resp) == "query_limit":
                        raise BudgetExhausted(
                            f"{where}: the server's query limit is spent ({message})"
                        )
                    last = f"HTTP 429 rate limited ({message})"
                    delay = _retry_after(resp.headers.get("Retry-After"))
                elif status >= 500:
                    last = f"HTTP {status} ({message})"
                elif status == 413:
                    raise InputError(f"{where}: request too large ({message}); lower batch_size")
                elif status == 422:
                    raise InputError(f"{where} rejected the inputs: {message}")
                else:
                    raise AdvlabError(f"{where} answered HTTP {status} ({message})")
            if attempt == attempts:
                break
            if delay is None:
                delay = self.backoff * 2 ** (attempt - 1)
            delay = min(delay, self.max_backoff)
            self.retries_used += 1
            log.info("%s: %s; retry %d/%d in %.2fs", where, last, attempt, self.retries, delay)
            _sleep(delay)
        raise TargetUnavailable(f"{where}: {last} (gave up after {attempts} attempt(s))")

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        n = len(x)
        body = self._request("POST", self.url, {"inputs": x.detach().cpu().tolist()})
        where = safe_url(self.url)
        if self.returns == "labels":
            if "labels" in body:
                lab = np.asarray(body["labels"], dtype=np.int64).reshape(-1)
            elif "outputs" in body:
                lab = np.asarray(body["outputs"], dtype=np.float32).argmax(axis=1)
            else:
                raise TargetUnavailable(f"{where}: the answer has neither 'labels' nor 'outputs'")
            if lab.shape != (n,) or (n and (lab.min() < 0 or lab.max() >= self.num_classes)):
                raise TargetUnavailable(
                    f"{where}: expected {n} labels in 0..{self.num_classes - 1}, "
                    f"got {lab.tolist()!r:.80}"
                )
            out = np.eye(self.num_classes, dtype=np.float32)[lab]
        else:
            if "outputs" not in body:
                raise AccessError(
                    f"{where} returns labels only; use HttpClassifier(..., returns='labels')"
                )
            out = np.asarray(body["outputs"], dtype=np.float32)
            if out.shape != (n, self.num_classes):
                raise TargetUnavailable(
                    f"{where}: outputs have shape {out.shape}; expected ({n}, {self.num_classes})"
                )
        return torch.from_numpy(out).to(self.device)

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


def _error_message(resp: Any) -> str:
    try:
        body = resp.json()
    except ValueError:
        return (resp.text or resp.reason_phrase or "no details")[:200]
    if isinstance(body, dict):
        for k in ("error", "detail", "message"):
            if k in body:
                return str(body[k])[:300]
    return str(body)[:200]


def _error_code(resp: Any) -> str | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    return str(body.get("code")) if isinstance(body, dict) and "code" in body else None

"""Secrets (API keys, tokens) kept out of every message, log record, result and report.

One registry per process holds the secret *values* advlab has been given: API keys read from
environment variables, the values of sensitive request headers (``Authorization``,
``X-API-Key``, ...) and of sensitive URL query parameters (``?api_key=...``). Whoever reads
a secret registers it (:func:`register`); :func:`redact` then replaces every registered value
in a text by ``***``. Redaction is applied at the source: an adapter redacts the text of an
error before raising it, and :func:`install_log_redaction` redacts every log record at its
creation, advlab's and its HTTP libraries' (httpx prints request URLs, httpcore response
headers) alike.

Why a record factory and not only a :class:`logging.Filter` on a few loggers: a filter on
logger ``httpcore`` is not consulted for records of its child ``httpcore.http11``, and a
filter on a handler only covers that handler. The factory runs :class:`RedactingFilter` on
every record, whatever its logger and wherever it goes.

A value shorter than :data:`MIN_SECRET_LENGTH` characters is not searched for in free text
(it would mangle ordinary words and numbers); it is still masked where its position is known
(URLs, headers, :meth:`describe` outputs).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

MASK = "***"
MIN_SECRET_LENGTH = 4
SENSITIVE_NAME = re.compile(
    r"key|token|secret|passw|pwd|auth|credential|signature|^sig$|session|cookie", re.IGNORECASE
)
"""Header or query-parameter names whose values are secrets."""

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_installed = False


def is_sensitive(name: str) -> bool:
    """True for a header / parameter name that carries a credential (``api_key``, ``token``...)."""
    return bool(SENSITIVE_NAME.search(name))


def register(value: str | None) -> None:
    """Remember ``value`` as a secret (and its URL-encoded form); short values are ignored."""
    if not value:
        return
    forms = {value, quote(value, safe=""), quote(value)}
    new = {f for f in forms if len(f) >= MIN_SECRET_LENGTH} - _secrets
    if not new:
        return
    global _pattern
    with _lock:
        _secrets.update(new)
        # longest first, so a secret containing another is masked whole
        alternatives = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in alternatives))
    install_log_redaction()


def clear() -> None:
    """Forget every registered secret (for tests; log redaction stays installed)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


def registered() -> int:
    """How many secret forms are registered (for tests and diagnostics)."""
    return len(_secrets)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    pat = _pattern
    if pat is None or not text:
        return text
    return pat.sub(MASK, text)


def redact_data(obj: Any) -> Any:
    """A copy of JSON-like ``obj`` with every string redacted (keys included)."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {redact_data(k): redact_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_data(v) for v in obj]
    return obj


def safe_url(url: str) -> str:
    """``url`` without credentials: userinfo and sensitive query values become ``***``.

    Query parameters named like a credential (:data:`SENSITIVE_NAME`: ``key``, ``token``,
    ``secret``, ``password``, ``auth``...) are masked; others are kept. Registered secrets
    anywhere else in the URL are masked too.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        items = []
        for kv in query.split("&"):
            name = kv.split("=", 1)[0]
            items.append(f"{name}={MASK}" if is_sensitive(name) and "=" in kv else kv)
        query = "&".join(items)
    return redact(urlunsplit((parts.scheme, netloc, parts.path, query, "")))


def register_url(url: str) -> None:
    """Register the userinfo password and the sensitive query values of ``url``."""
    parts = urlsplit(url)
    register(parts.password)
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if is_sensitive(name):
            register(value)


def register_headers(headers: dict[str, str]) -> None:
    """Register the values of sensitive headers (``Authorization: Bearer k`` registers ``k``)."""
    for name, value in headers.items():
        if is_sensitive(name) and value:
            scheme, _, token = value.partition(" ")
            register(token.strip() if token and scheme.isalpha() else value)
            register(value)


class RedactingFilter(logging.Filter):
    """Redacts registered secrets in a record's message, arguments and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error handling
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Redact every log record of this process at creation (idempotent).

    Wraps the current log-record factory; the filter is also attached to the ``advlab``,
    ``httpx`` and ``httpcore`` loggers, so a handler that recreates records still sees it.
    """
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _FILTER.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        for name in ("advlab", "httpx", "httpcore"):
            logging.getLogger(name).addFilter(_FILTER)
        _installed = True

"""Strict decoding of a prediction endpoint's answer (for :class:`~advlab.targets.HttpClassifier`).

An answer is accepted only when it is exactly what was asked for: a JSON object whose
``outputs`` is a list of ``n`` rows of ``num_classes`` finite numbers (probabilities in
[0, 1] when the endpoint returns probabilities) or whose ``labels`` is a list of ``n``
integers in ``0..num_classes-1``. Anything else (NaN, null, strings, booleans, ragged rows,
numbers that overflow float32, a body too deeply nested to decode) raises
:class:`BadAnswer` with one line and a bounded, redacted excerpt of the offending value:
a wrong number is never passed on to an attack.
"""

from __future__ import annotations

import json
import math
import reprlib
from typing import Any

import numpy as np

from advlab.errors import TargetUnavailable
from advlab.secrets import redact

PROB_TOLERANCE = 1e-6
"""Slack on [0, 1] for probabilities: a few float32 ulps at 1.0 (one ulp is 1.2e-7)."""


class _RedactingRepr(reprlib.Repr):
    """A bounded repr that redacts each string *before* cutting it (no partial secrets)."""

    def repr_str(self, x: str, level: int) -> str:
        return super().repr_str(redact(x), level)

    def repr_bytes(self, x: bytes, level: int) -> str:
        return self.repr_str(x.decode("utf-8", "replace"), level)


_EXCERPT = _RedactingRepr()
_EXCERPT.maxlevel = 3
_EXCERPT.maxlist = 4
_EXCERPT.maxdict = 4
_EXCERPT.maxstring = 40
_EXCERPT.maxother = 40


class BadAnswer(TargetUnavailable):
    """The endpoint answered, but not with a valid prediction (never retried)."""


def excerpt(value: Any, limit: int = 120) -> str:
    """A short, redacted rendering of ``value`` (never the whole body)."""
    try:
        text = _EXCERPT.repr(value)
    except RecursionError:
        text = f"<{type(value).__name__} nested too deeply>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_line(text: str) -> str:
    """``text`` with control characters dropped and whitespace runs folded to one space."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _head(raw: bytes, size: int = 60) -> str:
    """The start of a raw body, redacted before it is cut."""
    return repr(redact(raw.decode("utf-8", "replace"))[:size])


def decode_json(raw: bytes, where: str) -> dict[str, Any]:
    """The JSON object in ``raw``, or :class:`BadAnswer`."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise BadAnswer(f"{where}: the answer is JSON nested too deeply to decode") from None
    except (ValueError, UnicodeDecodeError):
        raise BadAnswer(
            f"{where}: the answer is not JSON (starts {_head(raw)}); "
            'expected {"outputs": [[...]]} or {"labels": [...]}'
        ) from None
    if not isinstance(body, dict):
        raise BadAnswer(f"{where}: expected a JSON object, got {excerpt(body)}")
    return body


def _is_number(v: Any) -> bool:
    return type(v) is float or type(v) is int  # bool, None and str are not numbers


def scores(value: Any, n: int, k: int, *, probs: bool, where: str) -> np.ndarray:
    """``value`` as an ``(n, k)`` float32 array of finite scores, or :class:`BadAnswer`."""
    want = f"a list of {n} rows of {k} finite numbers"
    if not isinstance(value, list) or len(value) != n:
        got = f"{len(value)} rows" if isinstance(value, list) else excerpt(value)
        raise BadAnswer(f"{where}: 'outputs' must be {want}; got {got}")
    for i, row in enumerate(value):
        if not isinstance(row, list) or len(row) != k:
            got = f"{len(row)} values" if isinstance(row, list) else excerpt(row)
            raise BadAnswer(f"{where}: 'outputs' row {i} must hold {k} numbers; got {got}")
        for v in row:
            if not _is_number(v) or not math.isfinite(v):
                raise BadAnswer(
                    f"{where}: 'outputs' row {i} holds {excerpt(v)}; expected {want} "
                    "(NaN, inf, null and strings are not scores)"
                )
    arr = np.asarray(value, dtype=np.float64)
    out = arr.astype(np.float32)
    if not np.isfinite(out).all():
        raise BadAnswer(f"{where}: 'outputs' holds values beyond the float32 range")
    if probs and n and (arr.min() < -PROB_TOLERANCE or arr.max() > 1 + PROB_TOLERANCE):
        raise BadAnswer(
            f"{where}: 'outputs' are not probabilities (range {arr.min():.4g}..{arr.max():.4g}); "
            "expected values in [0, 1], or set returns='logits'"
        )
    return out


def labels(value: Any, n: int, k: int, *, where: str) -> np.ndarray:
    """``value`` as ``n`` int64 labels in ``0..k-1``, or :class:`BadAnswer`."""
    want = f"a list of {n} integers in 0..{k - 1}"
    if not isinstance(value, list) or len(value) != n:
        got = f"{len(value)} labels" if isinstance(value, list) else excerpt(value)
        raise BadAnswer(f"{where}: 'labels' must be {want}; got {got}")
    for v in value:
        if type(v) is not int or not 0 <= v < k:
            raise BadAnswer(f"{where}: 'labels' holds {excerpt(v)}; expected {want}")
    return np.asarray(value, dtype=np.int64).reshape(n)


def server_message(raw: bytes, reason: str) -> tuple[str, str | None]:
    """(a short redacted message, the ``code`` field) from an error answer's body."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError, UnicodeDecodeError):
        text = one_line(redact(raw.decode("utf-8", "replace")))
        return (text or one_line(reason) or "no details")[:200], None
    code = str(body["code"])[:40] if isinstance(body, dict) and "code" in body else None
    if isinstance(body, dict):
        for key in ("error", "detail", "message"):
            if key in body:
                msg = redact(body[key]) if isinstance(body[key], str) else excerpt(body[key])
                return one_line(msg)[:300], code
    return excerpt(body, 200), code

"""Validators for command-line options, used as Typer callbacks.

A bad value is a usage error (``typer.BadParameter``, exit 4) raised while the options are
parsed, before any work: NaN and infinities are refused wherever a number is expected, and
each validator states its range. One module, so every command applies the same rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import typer

T = TypeVar("T")

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d{1,3})?)$")


def _each(value: Any, check: Callable[[Any], None]) -> Any:
    if value is None:
        return None
    for v in value if isinstance(value, (list, tuple)) else [value]:
        check(v)
    return value


def number(
    *, gt: float | None = None, ge: float | None = None, le: float | None = None
) -> Callable[[Any], Any]:
    """A callback accepting finite numbers (or lists of them) in the given range."""

    def check(v: float) -> None:
        if not math.isfinite(v):
            raise typer.BadParameter(f"must be a finite number, got {v}")
        if gt is not None and not v > gt:
            raise typer.BadParameter(f"must be > {gt:g}, got {v:g}")
        if ge is not None and not v >= ge:
            raise typer.BadParameter(f"must be >= {ge:g}, got {v:g}")
        if le is not None and not v <= le:
            raise typer.BadParameter(f"must be <= {le:g}, got {v:g}")

    return lambda value: _each(value, check)


positive = number(gt=0)
"""A finite number > 0 (learning rates, radii)."""

non_negative = number(ge=0)
"""A finite number >= 0."""


def integer(*, ge: int = 1, le: int | None = None) -> Callable[[Any], Any]:
    """A callback accepting integers in ``[ge, le]``."""

    def check(v: int) -> None:
        if v < ge or (le is not None and v > le):
            upper = "" if le is None else f" and <= {le}"
            raise typer.BadParameter(f"must be >= {ge}{upper}, got {v}")

    return lambda value: _each(value, check)


def choice(options: Iterable[str], *, optional: bool = False) -> Callable[[Any], Any]:
    """A callback accepting one of ``options`` (``None`` too when ``optional``)."""
    allowed = tuple(options)

    def check(v: str) -> None:
        if v not in allowed:
            raise typer.BadParameter(f"expected one of {', '.join(allowed)}, got {v!r}")

    def callback(value: Any) -> Any:
        if value is None and optional:
            return None
        return _each(value, check)

    return callback


def device(value: str) -> str:
    """``auto``, ``cpu``, ``mps``, ``cuda`` or ``cuda:N``."""
    if not _DEVICE.match(value or ""):
        raise typer.BadParameter(f"expected auto, cpu, mps, cuda or cuda:N, got {value!r}")
    return value

"""Where the kit's check lists live: one list per plugin family (extensible)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

CheckFn = Callable[[Any], None]
"""A check takes a plugin instance (built from its ``fast_params``) and raises on failure."""


@dataclass(frozen=True)
class Check:
    """One named conformance check; ``applies(cls)`` says whether it concerns a class."""

    name: str
    fn: CheckFn
    applies: Callable[[type[Any]], bool] = lambda cls: True

    def __call__(self, plugin: Any) -> None:
        self.fn(plugin)


CHECKS: dict[str, list[Check]] = {}
"""family -> its checks (``"*"``: checks every plugin gets)."""


def register_checks(family: str, checks: Iterable[Check]) -> None:
    """Add checks for a family (``"*"`` for all). New families (probe, detector, transform)
    call this from their own module; names must be unique within a family."""
    table = CHECKS.setdefault(family, [])
    have = {c.name for c in table}
    for c in checks:
        if c.name in have:
            raise ValueError(f"check {c.name!r} is registered twice for family {family!r}")
        table.append(c)
        have.add(c.name)


def check(
    name: str, applies: Callable[[type[Any]], bool] | None = None
) -> Callable[[CheckFn], Check]:
    """Decorator turning a function into a :class:`Check`."""

    def deco(fn: CheckFn) -> Check:
        return Check(name, fn, applies or (lambda cls: True))

    return deco


def expect_error(
    errors: type[BaseException] | tuple[type[BaseException], ...],
    word: str,
    fn: Callable[..., Any],
    *args: Any,
    **kwargs: Any,
) -> None:
    """Assert that ``fn(*args, **kwargs)`` raises one of ``errors`` with ``word`` in its message."""
    try:
        fn(*args, **kwargs)
    except errors as exc:
        assert word in str(exc), f"the error {exc!r} does not mention {word!r}"
    else:
        raise AssertionError(f"{getattr(fn, '__qualname__', fn)} did not raise (expected {word!r})")

"""Small dict registries with ``register_*`` decorators (attacks, defenses, datasets).

Importing :mod:`advlab.attacks` / :mod:`advlab.defenses` / :mod:`advlab.data` fills them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from advlab.errors import UnknownNameError

T = TypeVar("T")

ATTACKS: dict[str, type[Any]] = {}
DEFENSES: dict[str, type[Any]] = {}
DATASETS: dict[str, Callable[..., Any]] = {}


def _register(table: dict[str, Any], what: str) -> Callable[[T], T]:
    def deco(obj: T) -> T:
        name = getattr(obj, "name", None) or getattr(obj, "__name__", "").lower()
        if not name:
            raise ValueError(f"cannot register a {what} without a name")
        if name in table and table[name] is not obj:
            raise ValueError(f"{what} {name!r} is registered twice")
        table[name] = obj
        return obj

    return deco


register_attack = _register(ATTACKS, "attack")
register_defense = _register(DEFENSES, "defense")


def register_dataset(name: str) -> Callable[[T], T]:
    def deco(fn: T) -> T:
        DATASETS[name] = fn  # type: ignore[assignment]
        return fn

    return deco


def _lookup(table: dict[str, Any], name: str, what: str) -> Any:
    key = name.strip().lower()
    if key not in table:
        valid = ", ".join(sorted(table))
        raise UnknownNameError(f"unknown {what} {name!r}; valid {what}s: {valid}")
    return table[key]


def get_attack(name: str) -> type[Any]:
    import advlab.attacks  # noqa: F401  (fills the registry)

    return _lookup(ATTACKS, name, "attack")  # type: ignore[no-any-return]


def get_defense(name: str) -> type[Any]:
    import advlab.defenses  # noqa: F401

    return _lookup(DEFENSES, name, "defense")  # type: ignore[no-any-return]


def get_dataset(name: str) -> Callable[..., Any]:
    import advlab.data  # noqa: F401

    return _lookup(DATASETS, name, "dataset")  # type: ignore[no-any-return]


def all_attacks(kind: str | None = None) -> dict[str, type[Any]]:
    import advlab.attacks  # noqa: F401

    return {k: v for k, v in sorted(ATTACKS.items()) if kind is None or v.kind == kind}

"""Small dict registries with ``register_*`` decorators (attacks, defenses, datasets).

Discovery: :func:`discover` imports every module under advlab's plugin packages (walked with
:mod:`pkgutil`, so a new plugin file needs no other edit) and every module named in the
``advlab.plugins`` entry-point group; the decorators fill the tables at import. A module that
fails to import is remembered in :data:`BROKEN` and named when a lookup fails.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, TypeVar

from advlab.errors import UnknownNameError

T = TypeVar("T")

ATTACKS: dict[str, type[Any]] = {}
DEFENSES: dict[str, type[Any]] = {}
DATASETS: dict[str, Callable[..., Any]] = {}
BROKEN: dict[str, str] = {}
"""Plugin modules that failed to import: module name -> reason."""

PLUGIN_PACKAGES = ("advlab.attacks", "advlab.defenses", "advlab.data")
ENTRY_POINT_GROUP = "advlab.plugins"

log = logging.getLogger(__name__)
_discovered = False


def _try_import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except Exception as exc:  # a broken plugin must not hide the others; it is reported
        BROKEN[module] = f"{type(exc).__name__}: {exc}"
        log.warning("plugin module %s could not be loaded: %s", module, BROKEN[module])
        return None


def discover() -> None:
    """Import advlab's plugin modules and third-party plugins (once per process)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for package in PLUGIN_PACKAGES:
        pkg = _try_import(package)
        if pkg is None:
            continue
        for info in pkgutil.walk_packages(pkg.__path__, prefix=package + "."):
            if info.name not in BROKEN:
                _try_import(info.name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        _try_import(ep.value.split(":")[0])


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
        broken = "".join(f"; {m} could not be loaded ({why})" for m, why in sorted(BROKEN.items()))
        raise UnknownNameError(f"unknown {what} {name!r}; valid {what}s: {valid}{broken}")
    return table[key]


def get_attack(name: str) -> type[Any]:
    discover()

    return _lookup(ATTACKS, name, "attack")  # type: ignore[no-any-return]


def get_defense(name: str) -> type[Any]:
    discover()

    return _lookup(DEFENSES, name, "defense")  # type: ignore[no-any-return]


def get_dataset(name: str) -> Callable[..., Any]:
    discover()

    return _lookup(DATASETS, name, "dataset")  # type: ignore[no-any-return]


def all_attacks(kind: str | None = None) -> dict[str, type[Any]]:
    discover()

    return {k: v for k, v in sorted(ATTACKS.items()) if kind is None or v.kind == kind}

"""Plugin registries with ``register_*`` decorators, one table per family, and datasets.

Discovery: :func:`discover` imports every module under advlab's plugin packages (walked with
:mod:`pkgutil`, so a new plugin file needs no other edit) and every module named in the
``advlab.plugins`` entry-point group; the decorators fill the tables at import. Registration
validates the plugin's metadata (:func:`advlab.plugin.metadata`): a plugin with bad metadata
makes its module fail to import. A module that fails to import is remembered in
:data:`BROKEN` and named by ``advlab list`` and when a lookup fails. Deprecated names
(a plugin's ``aliases``) are accepted with a warning.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
import re
import warnings
from collections.abc import Callable
from importlib import metadata
from importlib.metadata import entry_points
from typing import Any, TypeVar, cast

from advlab.errors import UnknownNameError
from advlab.taxonomy import FAMILIES

T = TypeVar("T")

ATTACKS: dict[str, type[Any]] = {}
DEFENSES: dict[str, type[Any]] = {}
PLUGINS: dict[str, dict[str, type[Any]]] = {f: {} for f in FAMILIES}
"""family -> name -> class. Attack families share their tables with :data:`ATTACKS`."""
DATASETS: dict[str, Callable[..., Any]] = {}
ALIASES: dict[str, str] = {}
"""Deprecated name -> current name (any family)."""
BROKEN: dict[str, str] = {}
"""Plugin modules that failed to import: module name -> reason."""

PLUGIN_PACKAGES = (
    "advlab.attacks",
    "advlab.defenses",
    "advlab.data",
    "advlab.llm",
    "advlab.lm",
    "advlab.lab",
)
"""Packages walked for plugins (a package that does not exist is skipped)."""
ENTRY_POINT_GROUP = "advlab.plugins"

log = logging.getLogger(__name__)
_discovered = False


_MODULE_TO_DIST = {"PIL": "pillow", "sklearn": "scikit-learn", "yaml": "pyyaml"}


def extra_for(missing_module: str) -> str | None:
    """The advlab extra (other than ``dev``) that installs ``missing_module``, if any."""
    top = missing_module.split(".")[0]
    dist = _MODULE_TO_DIST.get(top, top).lower().replace("_", "-")
    try:
        requirements = metadata.requires("advlab") or []
    except metadata.PackageNotFoundError:
        return None
    for req in requirements:
        m = re.match(r"\s*([A-Za-z0-9._-]+)[^;]*;.*extra\s*==\s*\"([^\"]+)\"", req)
        if m and m.group(2) != "dev" and m.group(1).lower().replace("_", "-") == dist:
            return m.group(2)
    return None


def _try_import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except Exception as exc:  # a broken plugin must not hide the others; it is reported
        BROKEN[module] = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            extra = extra_for(exc.name)
            if extra:
                BROKEN[module] += f"; install it with: pip install 'advlab[{extra}]'"
        log.warning("plugin module %s could not be loaded: %s", module, BROKEN[module])
        return None


def discover() -> None:
    """Import advlab's plugin modules and third-party plugins (once per process)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for package in PLUGIN_PACKAGES:
        if importlib.util.find_spec(package) is None:
            continue
        pkg = _try_import(package)
        if pkg is None:
            continue
        for info in pkgutil.walk_packages(pkg.__path__, prefix=package + "."):
            if info.name not in BROKEN:
                _try_import(info.name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        _try_import(ep.value.split(":")[0])


def _qualname(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


ATTACK_FAMILIES = ("evasion", "extraction", "inference", "poisoning")


def own_aliases(cls: type[Any]) -> tuple[str, ...]:
    """The deprecated names a class declares itself (a subclass does not inherit them: two
    classes cannot answer to one old name)."""
    return tuple(vars(cls).get("aliases", ()))


def _register(table: dict[str, Any], what: str, families: tuple[str, ...]) -> Callable[[T], T]:
    def deco(obj: T) -> T:
        from advlab.plugin import metadata

        cls = cast(type[Any], obj)
        meta = metadata(cls)  # raises ValueError naming the class and the problem
        name = meta.name
        if meta.family not in families:
            raise ValueError(
                f"plugin {_qualname(cls)}: family {meta.family!r} does not belong in the {what} "
                f"table (expected {' or '.join(families)})"
            )
        prev = table.get(name)
        if prev is not None and _qualname(prev) != _qualname(cls):
            raise ValueError(f"{what} {name!r} is registered twice ({_qualname(prev)})")
        aliases = own_aliases(cls)
        for old in aliases:
            taken = any(old in t for t in (table, *PLUGINS.values()))
            if taken or ALIASES.get(old, name) != name:
                raise ValueError(f"plugin {_qualname(cls)}: alias {old!r} is already taken")
        table[name] = cls
        PLUGINS[meta.family][name] = cls
        for old in aliases:
            ALIASES[old] = name
        return obj

    return deco


register_attack = _register(ATTACKS, "attack", ATTACK_FAMILIES)
register_defense = _register(DEFENSES, "defense", ("defense",))


def register_plugin(obj: T) -> T:
    """Register a plugin of any family (probes, detectors, transforms, challenges, ...):
    attacks and defenses go to their own tables as with :func:`register_attack` and
    :func:`register_defense`, every other family to ``PLUGINS[family]``."""
    family = getattr(obj, "family", "")
    if family in ATTACK_FAMILIES:
        return register_attack(obj)
    if family == "defense":
        return register_defense(obj)
    table = PLUGINS.get(family, {})  # an unknown family fails metadata validation
    return _register(table, family or "plugin", (family,))(obj)


def unregister(family: str, name: str) -> None:
    """Remove a registered plugin and its aliases (tests, interactive sessions)."""
    cls = PLUGINS.get(family, {}).pop(name, None)
    for table in (ATTACKS, DEFENSES):
        if table.get(name) is cls:
            table.pop(name, None)
    for old in [a for a, new in ALIASES.items() if new == name]:
        del ALIASES[old]


def register_dataset(name: str) -> Callable[[T], T]:
    def deco(fn: T) -> T:
        DATASETS[name] = fn  # type: ignore[assignment]
        return fn

    return deco


def _lookup(table: dict[str, Any], name: str, what: str) -> Any:
    key = name.strip().lower()
    if key not in table and key in ALIASES and ALIASES[key] in table:
        new = ALIASES[key]
        msg = f"{what} name {key!r} is deprecated; use {new!r}"
        warnings.warn(msg, DeprecationWarning, stacklevel=3)
        log.warning(msg)
        key = new
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


def all_attacks(family: str | None = None) -> dict[str, type[Any]]:
    discover()

    return {k: v for k, v in sorted(ATTACKS.items()) if family is None or v.family == family}


def all_plugins(family: str | None = None) -> dict[str, dict[str, type[Any]]]:
    """family -> name -> class, for one family or all of them (sorted by name)."""
    discover()
    fams = [family] if family is not None else list(FAMILIES)
    return {f: dict(sorted(PLUGINS.get(f, {}).items())) for f in fams}


def get_plugin(family: str, name: str) -> type[Any]:
    discover()
    if family not in PLUGINS:
        raise UnknownNameError(f"unknown plugin family {family!r}; valid: {', '.join(FAMILIES)}")
    return _lookup(PLUGINS[family], name, family)  # type: ignore[no-any-return]

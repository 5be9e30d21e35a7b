"""Lazy package exports (PEP 562), so that one plugin module that fails to import cannot
break its whole package: ``from advlab.attacks.evasion import PGD`` imports only ``pgd``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, names: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` for ``package``.

    ``names`` maps an exported name to the module defining it; a name whose module is
    ``package.name`` is that submodule itself.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        mod = importlib.import_module(module)
        return mod if module == f"{package}.{name}" else getattr(mod, name)

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__

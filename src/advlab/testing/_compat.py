"""Adapters over the plugin metadata the kit reads, old spellings included.

A defense's ``role`` (``preprocess`` | ``postprocess`` | ``detector`` | ``training`` |
``data``) was once called ``kind``; capability ``flags`` were once booleans (``minimal``,
``supports_targeted``, ``needs_reference``, ``needs_data``). Every check reads them through
:func:`role_of` and :func:`flags_of` only.
"""

from __future__ import annotations

from typing import Any

ROLES = ("preprocess", "postprocess", "detector", "training", "data")

_OLD_BOOLEANS = {
    "minimal": "minimal_norm",
    "supports_targeted": "targeted",
    "needs_reference": "needs_reference_models",
    "needs_data": "needs_data",
}


def role_of(plugin: Any) -> str:
    """The role of a defense (``""`` for plugins that are not defenses)."""
    return str(getattr(plugin, "role", getattr(plugin, "kind", "")) or "")


def flags_of(plugin: Any) -> frozenset[str]:
    """The capability flags of a plugin, from ``flags`` or the older booleans."""
    flags = set(getattr(plugin, "flags", frozenset()) or ())
    for old, new in _OLD_BOOLEANS.items():
        if getattr(plugin, old, False) is True:
            flags.add(new)
    return frozenset(flags)

"""Attacks, one subpackage per family; the registry discovers them (:func:`advlab.registry.discover`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from advlab._lazy import lazy_exports

if TYPE_CHECKING:
    from advlab.attacks.base import Attack

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "evasion": "advlab.attacks.evasion",
        "extraction": "advlab.attacks.extraction",
        "inference": "advlab.attacks.inference",
        "poisoning": "advlab.attacks.poisoning",
        "Attack": "advlab.attacks.base",
    },
)

__all__ = [
    "Attack",
]

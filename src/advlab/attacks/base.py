"""Base class of all attacks: the plugin parameter contract plus what an attack needs.

``__init__`` only stores keyword arguments (all defaulted); validation happens when the
attack runs. Metadata (``name``, ``family``, ``paper``, ``summary``, ``tags``, ``flags``,
``fast_params``, ...) are class attributes validated by :func:`advlab.plugin.metadata`;
``requires`` is the least access to the target the attack needs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from advlab.access import Access
from advlab.plugin import Plugin
from advlab.taxonomy import TAGS


class Attack(Plugin):
    """Base of every attack family."""

    requires: ClassVar[Access] = Access.LABELS
    suite_params: ClassVar[dict[str, dict[str, Any]]] = {}
    """Access level (``gradients`` | ``scores`` | ``labels``) -> the constructor arguments
    with which the attack belongs to the default assessment suite at that access level."""

    @classmethod
    def derived_tags(cls) -> set[str]:
        """``threat:`` from the family, ``access:`` from ``requires``, ``modality:any`` unless
        the class declares a modality."""
        tags = {f"access:{cls.requires.name.lower()}"}
        if cls.family in TAGS["threat"]:
            tags.add(f"threat:{cls.family}")
        if not any(t.startswith("modality:") for t in cls.tags):
            tags.add("modality:any")
        return tags

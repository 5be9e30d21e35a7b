"""Base class of all attacks: scikit-learn style constructor contract and metadata.

``__init__`` only stores keyword arguments (all defaulted); validation happens when the
attack runs. Class attributes carry the plugin metadata used by ``advlab list`` and by the
conformance tests: ``name``, ``kind``, ``requires``, ``paper``, ``summary``.
"""

from __future__ import annotations

from typing import ClassVar

from advlab.access import Access
from advlab.plugin import Plugin


class Attack(Plugin):
    """Base of every attack family; ``kind`` is kept as the family's older name."""

    kind: ClassVar[str] = ""
    requires: ClassVar[Access] = Access.LABELS

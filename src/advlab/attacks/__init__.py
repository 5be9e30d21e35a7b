"""Attacks by threat kind; importing this package registers every built-in attack."""

from advlab.attacks import evasion, extraction, inference, poisoning  # noqa: F401
from advlab.attacks.base import Attack

__all__ = ["Attack"]

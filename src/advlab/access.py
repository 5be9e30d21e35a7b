"""Access levels a target grants to an attacker."""

from __future__ import annotations

from enum import IntEnum


class Access(IntEnum):
    """What a target lets an attacker see; higher levels include lower ones."""

    LABELS = 1
    SCORES = 2
    GRADIENTS = 3

    @classmethod
    def parse(cls, value: str | int | Access) -> Access:
        if isinstance(value, Access):
            return value
        if isinstance(value, int):
            return cls(value)
        try:
            return cls[value.strip().upper()]
        except KeyError as exc:
            valid = ", ".join(a.name.lower() for a in cls)
            raise ValueError(f"unknown access level {value!r}; expected one of: {valid}") from exc

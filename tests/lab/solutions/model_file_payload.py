"""Read the payload with advlab's static scanner: the call's argument is the command."""

from __future__ import annotations

import ast
from typing import Any

from solutions._common import a_pickle


def solve(client: Any) -> tuple[bytes, str]:
    from advlab.serialization.scan import scan_bytes

    data = client.download("model_file_payload", "model.pt")
    report = scan_bytes(data, "model.pt")
    call = next(f for f in report.real_findings if f.rule == "pickle.call")
    args = ast.literal_eval(call.detail["args"])  # the repr of the call's arguments
    command = args[0] if isinstance(args, tuple) else args
    return command.encode(), "answer.txt"


def cheats(client: Any) -> list[tuple[str, bytes, str]]:
    return [
        ("a guess", b"rm -rf /", "not the command"),
        ("the callable, not the command", b"os.system", "not the command"),
        ("far too long", b"x" * 2000, "over 1000"),
        ("the checkpoint itself", client.download("model_file_payload", "model.pt"), "pickle"),
        ("a pickle", a_pickle("curl"), "pickle"),
    ]

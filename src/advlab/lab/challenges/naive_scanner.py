"""Model files: craft a pickle that a denylist scanner passes and advlab's scanner flags.

Background: Trail of Bits, "Exploiting ML models with pickle file attacks" (Sleepy Pickle),
2024, and the bypasses of denylist scanners collected in the advlab scanner corpus:
https://blog.trailofbits.com/2024/06/11/exploiting-ml-models-with-pickle-file-attacks-part-1/
"""

from __future__ import annotations

import pickletools
from typing import Any

from advlab.lab.base import Challenge, Rejected, Verdict
from advlab.registry import register_plugin

DENYLIST = {
    ("os", "system"),
    ("posix", "system"),
    ("nt", "system"),
    ("subprocess", "Popen"),
    ("subprocess", "call"),
    ("subprocess", "run"),
    ("subprocess", "check_output"),
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("__builtin__", "eval"),
    ("__builtin__", "exec"),
}
"""What the naive scanner looks for: GLOBAL opcodes naming these callables, nothing else."""


def naive_scan(data: bytes) -> list[str]:
    """The naive scanner: walk the opcodes, report GLOBAL ``module name`` pairs on its list."""
    found = []
    for op, arg, _ in pickletools.genops(data):
        if op.name == "GLOBAL" and isinstance(arg, str):
            module, _, name = arg.partition(" ")
            if (module, name) in DENYLIST:
                found.append(f"{module}.{name}")
    return found


@register_plugin
class NaiveScanner(Challenge):
    name = "naive_scanner"
    paper = "Trail of Bits 2024, Sleepy Pickle"
    link = "https://blog.trailofbits.com/2024/06/11/exploiting-ml-models-with-pickle-file-attacks-part-1/"
    summary = "Build a pickle that a denylist scanner calls clean and advlab's scanner flags."
    tags = frozenset({"threat:model_file", "access:none", "modality:any"})
    module = 5
    tier = "hard"
    threat_model = (
        "Setting: you red-team a model hub's upload scanner, which denies a list of callables "
        "(see the handout) by reading GLOBAL opcodes. Knowledge: the scanner's list and "
        "method. Access: you upload a file. The server never loads your file: both scanners "
        "read it statically."
    )
    task = (
        "Submit a pickle (a raw pickle stream, protocol 2 or later) that calls a dangerous "
        "callable when loaded, that the naive scanner finds nothing in, and in which advlab's "
        "scanner reports a critical call. This is the one challenge where a pickle is the "
        "expected submission; it is scanned, never unpickled."
    )

    def handout(self) -> dict[str, Any]:
        return {
            "denylist": sorted(f"{m}.{n}" for m, n in DENYLIST),
            "method": "GLOBAL opcodes only (pickletools.genops), exact module and name",
        }

    def _grade(self, data: bytes, filename: str) -> Verdict:
        from advlab.serialization.findings import Severity
        from advlab.serialization.scan import scan_bytes

        if data[:1] != b"\x80":
            raise Rejected("not a pickle of protocol 2 or later (it must start with PROTO 0x80)")
        try:
            naive = naive_scan(data)
        except Exception as exc:  # a stream the naive scanner cannot parse is not a bypass
            raise Rejected(f"the pickle does not parse: {exc}") from None
        if naive:
            return Verdict(False, f"the naive scanner catches it: {', '.join(naive)}")
        report = scan_bytes(data, filename)
        calls = [
            f
            for f in report.real_findings
            if f.rule == "pickle.call" and f.severity >= Severity.CRITICAL
        ]
        if not calls:
            return Verdict(False, "advlab's scanner finds no dangerous call in it: no payload")
        what = calls[0].detail.get("callable", "?")
        return Verdict(True, f"the naive scanner passes it; advlab flags a call to {what}")

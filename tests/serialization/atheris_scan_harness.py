"""Coverage-guided fuzz harness for the scanner (atheris / libFuzzer).

Run: ``python tests/serialization/atheris_scan_harness.py -runs=100000``. Fails on any
exception escaping the scanner, an ``internal error`` report, a slow input or a canary file
created by a seed payload. Used by ``test_scan_fuzz.py`` with a bounded number of runs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from advlab.serialization import scan as _scan_mod  # noqa: F401
    from advlab.serialization.scan import scan_bytes

CANARY = Path(os.environ.get("ADVLAB_FUZZ_CANARY", "/tmp/advlab_atheris_canary"))


def test_one_input(data: bytes) -> None:
    if not data:
        return
    start = time.monotonic()
    report = scan_bytes(data, "atheris")
    if time.monotonic() - start > 5.0:
        raise RuntimeError("scan exceeded the time bound")
    if any("internal error" in e for e in report.errors):
        raise RuntimeError(report.errors)
    if CANARY.exists():
        raise RuntimeError("payload executed")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

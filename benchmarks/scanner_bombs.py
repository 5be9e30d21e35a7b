"""Benchmark: scanner time and peak memory on the decompression-bomb corpus, plus fuzzing.

Every bomb from :func:`advlab.serialization.bombs.bomb_corpus` is written to disk and scanned
by ``scan_paths`` in a fresh subprocess (so peak RSS is that file's alone), with the sources
of the tree under test first on ``PYTHONPATH``. Reported per file: size, wall time, peak RSS
(and the baseline after imports), exit code and the findings' rules. ``--src`` points at another
checkout's ``src`` to measure an older version on the same files (files the old version cannot
finish within ``--timeout`` are reported as such).

Optionally (``--fuzz-examples N``) the hypothesis fuzz suites of the scanner are run with
``ADVLAB_FUZZ_EXAMPLES=N`` and the number of inputs actually tried is reported.

Reproduce (from the repository root)::

    .venv/bin/python benchmarks/scanner_bombs.py --mib 1024 --fuzz-examples 2000 \
        --json /tmp/bombs_after.json
    .venv/bin/python benchmarks/scanner_bombs.py --mib 1024 --src ../main/src \
        --json /tmp/bombs_before.json        # an older checkout, same corpus
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, resource, sys, time
from advlab.serialization.scan import scan_paths
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = rss()
start = time.perf_counter()
report = scan_paths([sys.argv[1]])
seconds = time.perf_counter() - start
print(json.dumps({
    "seconds": seconds,
    "peak_rss": rss(),
    "baseline_rss": before,
    "exit_code": int(report.exit_code()),
    "rules": sorted({f.rule for f in report.findings}),
    "errors": [e[-160:] for e in report.errors],
}))
"""
FUZZ_SUITES = [
    "tests/serialization/test_scan_fuzz_containers.py",
    "tests/serialization/test_scan_fuzz.py",
]


def scan_one(path: Path, src: Path, timeout: float) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"file": path.name, "timeout": timeout, "wall": time.perf_counter() - start}
    row: dict[str, object] = {"file": path.name, "wall": time.perf_counter() - start}
    if out.returncode != 0:
        row["crash"] = out.stderr.strip().splitlines()[-1:] or ["?"]
        return row
    row.update(json.loads(out.stdout.strip().splitlines()[-1]))
    return row


def run_fuzz(examples: int, src: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(src), "ADVLAB_FUZZ_EXAMPLES": str(examples)}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--hypothesis-show-statistics", "-k", "not atheris", *FUZZ_SUITES],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    per_test = {
        name: int(passing)
        for name, passing in re.findall(r"::(test_\w+):\n(?:.*\n)*?\s+- (\d+) passing", out.stdout)
    }
    inputs = sum(int(n) for n in re.findall(r"(\d+) passing", out.stdout))
    failing = sum(int(n) for n in re.findall(r"(\d+) failing", out.stdout))
    verdicts = [ln for ln in out.stdout.splitlines() if re.search(r"\d+ (passed|failed)", ln)]
    summary = verdicts[-1].strip("= ") if verdicts else out.stderr[-300:]
    return {
        "examples_per_property": examples,
        "inputs": inputs,
        "inputs_per_property": per_test,
        "failing_inputs": failing,
        "pytest": summary,
        "returncode": out.returncode,
        "seconds": time.perf_counter() - start,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=1024, help="expansion per bomb, multiple of 16")
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="sources under test")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds per file")
    ap.add_argument("--only", default="", help="comma-separated file names ('none': no bombs)")
    ap.add_argument("--fuzz-examples", type=int, default=0, help="0: skip the fuzz suites")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from advlab.serialization.bombs import bomb_corpus

    corpus = bomb_corpus(args.mib)
    wanted = set(filter(None, args.only.split(",")))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in corpus.items():
            if wanted and name not in wanted:
                continue
            path = Path(tmp) / name
            path.write_bytes(data)
            row = scan_one(path, args.src.resolve(), args.timeout)
            row["bytes"] = len(data)
            rows.append(row)
            print(_line(row), flush=True)
    result: dict[str, object] = {"mib": args.mib, "src": str(args.src), "files": rows}
    if args.fuzz_examples:
        result["fuzz"] = run_fuzz(args.fuzz_examples, args.src.resolve())
        print(json.dumps(result["fuzz"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


def _line(row: dict[str, object]) -> str:
    head = f"| {row['file']} | {row['bytes']:,} | "
    if "timeout" in row:
        return head + f"> {row['timeout']:.0f} s (killed) | - | - | - |"
    if "crash" in row:
        return head + f"{row['wall']:.2f} s | - | crash | {row['crash']} |"
    mib = int(row["peak_rss"]) / (1 << 20)  # type: ignore[call-overload]
    return head + (
        f"{row['seconds']:.2f} s | {mib:,.0f} MiB | {row['exit_code']} | "
        f"{', '.join(row['rules']) or row['errors']} |"  # type: ignore[arg-type]
    )


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: advlab scan vs modelscan, picklescan and fickling on the same generated corpus.

Reports, side by side, the detection rate per bypass class, the false-positive rate on the
benign corpus, and throughput in MB/s on a large (>= 500 MB) generated benign checkpoint.
All peers run in this process through their Python APIs. Nothing in the corpus is loaded; a
canary file proves that no payload ran.

Reproduce (from the repository root)::

    .venv/bin/python benchmarks/scan.py --size-mb 512 --json /tmp/scan_bench.json

Decision rules per tool (what a user of its API would act on):

* advlab: ``scan_paths([file]).exit_code() == 1`` (default policy; the sklearn policy is shown
  as a separate row).
* picklescan: ``scan_file_path(file)`` reports ``infected_files > 0`` or ``issues_count > 0``.
* modelscan: ``ModelScan().scan(file)["summary"]["total_issues"] > 0``.
* fickling: files that ``fickling.polyglot.find_file_properties`` identifies as zip are scanned
  with ``scan_zip_archive``, raw pickles with ``scan_file`` (both ``graceful=True``, like its
  CLI); detected when any result is not ``is_safe``. Other formats are not scanned by fickling.

Errors (exceptions, or errors reported by the tool) are counted separately and are *not*
counted as detections.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

Outcome = tuple[bool, bool]  # (detected, error)


@dataclass
class Row:
    tool: str
    path: Path
    label: str
    malicious: bool
    detected: bool
    error: bool
    seconds: float


# ----------------------------------------------------------------------- tool adapters
def run_advlab(path: Path, trust_sklearn: bool = False) -> Outcome:
    from advlab.serialization.scan import scan_paths

    rep = scan_paths([path], trust_sklearn=trust_sklearn)
    code = int(rep.exit_code())
    return code == 1, code == 2


def run_picklescan(path: Path) -> Outcome:
    from picklescan.scanner import scan_file_path

    res = scan_file_path(str(path))
    return (res.infected_files > 0 or res.issues_count > 0), bool(res.scan_err)


def run_modelscan(path: Path) -> Outcome:
    from modelscan.modelscan import ModelScan

    rep = ModelScan().scan(path)
    return rep["summary"]["total_issues"] > 0, bool(rep.get("errors"))


def run_fickling(path: Path) -> Outcome:
    from fickling.loader import scan_file, scan_zip_archive
    from fickling.polyglot import find_file_properties

    props = find_file_properties(str(path))
    if props.get("is_torch_zip") or props.get("is_standard_zip"):
        results = list(scan_zip_archive(str(path), graceful=True).values())
    elif props.get("is_valid_pickle"):
        results = [scan_file(str(path), graceful=True)]
    else:
        return False, False
    detected = any(not r.is_safe for r in results)
    return detected, any(r.errors for r in results) and not detected


TOOLS: dict[str, Callable[[Path], Outcome]] = {
    "advlab": run_advlab,
    "picklescan": run_picklescan,
    "modelscan": run_modelscan,
    "fickling": run_fickling,
}


def _quiet() -> contextlib.ExitStack:
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    return stack


def timed(fn: Callable[[Path], Outcome], path: Path) -> tuple[bool, bool, float]:
    start = time.perf_counter()
    try:
        with _quiet():
            detected, error = fn(path)
    except Exception:
        detected, error = False, True
    return detected, error, time.perf_counter() - start


# ----------------------------------------------------------------------- corpus run
def run_corpus(root: Path) -> tuple[list[Row], bool]:
    from advlab.serialization.corpus import build_corpus

    canary = root / "CANARY"
    items = build_corpus(root / "corpus", canary)
    rows: list[Row] = []
    for tool, fn in TOOLS.items():
        for it in items:
            det, err, sec = timed(fn, it.path)
            rows.append(Row(tool, it.path, it.label, it.malicious, det, err, sec))
    for it in items:  # advlab with the documented sklearn policy, benign files only
        if not it.malicious:
            det, err, sec = timed(lambda p: run_advlab(p, trust_sklearn=True), it.path)
            rows.append(Row("advlab --trust-sklearn", it.path, it.label, False, det, err, sec))
    return rows, canary.exists()


def corpus_tables(rows: list[Row]) -> str:
    tools = list(TOOLS)
    by: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for r in rows:
        by[(r.tool, r.label)].append(r)
    labels = sorted({r.label for r in rows if r.malicious})
    out = ["### Detection per bypass class (detected / samples)", ""]
    out.append("| class | " + " | ".join(tools) + " |")
    out.append("|---|" + "---|" * len(tools))
    for label in labels:
        cells = []
        for t in tools:
            rs = by[(t, label)]
            err = sum(r.error for r in rs)
            cells.append(
                f"{sum(r.detected for r in rs)}/{len(rs)}" + (f" ({err} err)" if err else "")
            )
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out += ["", "### Totals", ""]
    out.append(
        "| tool | detection rate | errors on malicious | FP rate (benign) | "
        "FP rate (benign sklearn/joblib) | errors on benign | mean ms/file |"
    )
    out.append("|---|---|---|---|---|---|---|")
    for t in [*tools, "advlab --trust-sklearn"]:
        rs = [r for r in rows if r.tool == t]
        mal = [r for r in rs if r.malicious]
        ben = [r for r in rs if not r.malicious and r.label == "benign"]
        sk = [r for r in rs if not r.malicious and r.label == "benign-sklearn"]

        def pct(xs: list[Row]) -> str:
            if not xs:
                return "n/a"
            k = sum(x.detected for x in xs)
            return f"{100 * k / len(xs):.1f}% ({k}/{len(xs)})"

        out.append(
            f"| {t} | {pct(mal)} | {sum(r.error for r in mal)} | {pct(ben)} | {pct(sk)} | "
            f"{sum(r.error for r in ben + sk)} | "
            f"{1000 * statistics.mean(r.seconds for r in rs):.1f} |"
        )
    return "\n".join(out)


# ----------------------------------------------------------------------- throughput
def make_checkpoint(path: Path, size_mb: int) -> int:
    import torch

    n_layers = max(1, size_mb // 64)
    gen = torch.Generator().manual_seed(0)
    sd = {f"layers.{i}.weight": torch.randn(4096, 4096, generator=gen) for i in range(n_layers)}
    torch.save(sd, path)
    return path.stat().st_size


def make_dense_pickle(path: Path, n: int) -> None:
    """An opcode-dense pickle (millions of small objects): stresses the pickle simulator."""
    import pickle

    data = {f"k{i}": [float(i), i, None, (i, "x")] for i in range(n)}
    path.write_bytes(pickle.dumps(data, protocol=4))


def throughput(tmp: Path, size_mb: int, repeats: int) -> str:
    import torch

    ckpt = tmp / "large_checkpoint.pt"
    size = make_checkpoint(ckpt, size_mb)
    legacy = tmp / "large_legacy.pt"
    torch.save(torch.load(ckpt, weights_only=True), legacy, _use_new_zipfile_serialization=False)
    tar_path = tmp / "large_checkpoint.tar"
    with tarfile.open(tar_path, "w") as t:
        t.add(ckpt, arcname="model/large_checkpoint.pt")
    dense = tmp / "dense.pkl"
    make_dense_pickle(dense, 200_000)
    cases = [(p, name, fn) for p in (ckpt, legacy, dense) for name, fn in TOOLS.items()]
    cases.insert(1, (tar_path, "advlab", run_advlab))
    lines = [
        f"### Throughput ({size / 1e6:.0f} MB generated benign checkpoint: "
        f"{max(1, size_mb // 64)} x 4096x4096 float32)",
        "",
        "Inputs: `large_checkpoint.pt` (torch zip format), the same inside an uncompressed tar "
        "(forces reading every byte), `large_legacy.pt` (legacy non-zip torch format) and "
        "`dense.pkl` (protocol-4 pickle of 200k small dict entries, opcode-dense).",
        "",
        "| tool | input | median seconds | MB/s | verdict |",
        "|---|---|---|---|---|",
    ]
    for path, name, fn in cases:
        times: list[float] = []
        verdict = ""
        for _ in range(repeats):
            det, err, sec = timed(fn, path)
            times.append(sec)
            verdict = "error" if err else ("flagged" if det else "clean")
        med = statistics.median(times)
        mb = path.stat().st_size / 1e6
        lines.append(
            f"| {name} | {path.name} ({mb:.0f} MB) | {med:.3f} | {mb / med:,.0f} | {verdict} |"
        )
    for p in (ckpt, legacy, tar_path, dense):
        p.unlink()
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=512, help="large checkpoint size (>= 500)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--json", type=Path, help="also write raw per-file results here")
    args = ap.parse_args(argv)
    logging.disable(logging.CRITICAL)
    tmp = Path(tempfile.mkdtemp(prefix="advlab_scan_bench_"))
    try:
        t0 = time.perf_counter()
        rows, executed = run_corpus(tmp)
        header = [
            "## Model-file scanner benchmark",
            "",
            f"Machine: {platform.platform()}, Python {platform.python_version()}, "
            f"{os.cpu_count()} CPUs. Versions: advlab {version('advlab')}, "
            f"modelscan {version('modelscan')}, picklescan {version('picklescan')}, "
            f"fickling {version('fickling')}, torch {version('torch')}.",
            "",
            f"Corpus: {sum(r.malicious for r in rows if r.tool == 'advlab')} malicious, "
            f"{sum(not r.malicious for r in rows if r.tool == 'advlab')} benign files. "
            f"Canary created by any tool: {'YES' if executed else 'no'}. "
            f"Corpus phase took {time.perf_counter() - t0:.1f}s.",
            "",
            "",
        ]
        report = "\n".join(header) + corpus_tables(rows)
        if not args.skip_throughput:
            report += "\n\n" + throughput(tmp, args.size_mb, args.repeats)
        print(report)
        if args.json:
            args.json.write_text(
                json.dumps([{**r.__dict__, "path": str(r.path)} for r in rows], indent=1)
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

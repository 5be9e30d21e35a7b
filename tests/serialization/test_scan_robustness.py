"""Regression tests: the scanner cannot be blinded by a member it fails on, nor stalled by bombs.

Each zip here puts something the scanner once choked on (an LZMA member, a safetensors header
whose shape product overflows a float, an unsupported compression method, a bomb) *before* a
CRITICAL pickle; the verdict must name the payload.
"""

from __future__ import annotations

import io
import itertools
import json
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from advlab.serialization import containers, zips
from advlab.serialization import scan as scan_mod
from advlab.serialization.bombs import MIB, bomb_corpus, write_zip, zeros_entry
from advlab.serialization.containers import Limits
from advlab.serialization.corpus import P2, call, g, u
from advlab.serialization.findings import ExitCode, FileReport, ScanReport, Severity
from advlab.serialization.scan import ScanOptions, scan_bytes, scan_paths
from advlab.serialization.structured import check_safetensors

EVIL = P2 + call(g("os", "system"), u("id")) + b"."
BENIGN = P2 + b"}q\x00."
#: the documented default budget (docs/model_files.md, Limits): 64 MiB for a small file, 60 s
DEFAULT = Limits()


def _zip(members: list[tuple[str, bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, method in members:
            z.writestr(name, data, compress_type=method)
    return buf.getvalue()


def _critical_at(report: FileReport, suffix: str) -> bool:
    return any(
        f.severity is Severity.CRITICAL and f.location.endswith(suffix) for f in report.findings
    )


def _overflow_safetensors() -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [10**400], "data_offsets": [0, 8]}})
    raw = header.encode()
    return struct.pack("<Q", len(raw)) + raw + b"\0" * 8


@pytest.mark.parametrize(
    "method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
)
def test_payload_found_under_every_method_python_reads(method: int) -> None:
    data = _zip([("archive/data.pkl", EVIL, method)])
    report = scan_bytes(data, "m.zip")
    assert _critical_at(report, "!archive/data.pkl"), report.findings
    assert not report.errors


def test_payload_after_an_lzma_member_is_found() -> None:
    data = _zip([("a.pkl", BENIGN, zipfile.ZIP_LZMA), ("b.pkl", EVIL, zipfile.ZIP_STORED)])
    report = scan_bytes(data, "m.zip")
    assert _critical_at(report, "!b.pkl")
    assert "scan.internal-error" not in {f.rule for f in report.findings}


def test_lzma_npz_object_array_is_analysed() -> None:
    """numpy.load reads LZMA members, so the scanner must too."""
    buf = io.BytesIO()
    np.save(buf, np.array([1, "x"], dtype=object), allow_pickle=True)
    npy = buf.getvalue()
    cut = npy.index(b"\n") + 1  # end of the .npy header: the object array's pickle follows
    data = _zip([("arr_0.npy", npy[:cut] + EVIL, zipfile.ZIP_LZMA)])
    report = scan_bytes(data, "x.npz")
    assert _critical_at(report, "!arr_0.npy"), report.findings


def test_safetensors_shape_overflow_does_not_hide_what_follows() -> None:
    findings = check_safetensors(_overflow_safetensors(), "w.safetensors")
    assert [f.rule for f in findings] == ["safetensors.size"]
    assert "more than the 8-byte buffer" in findings[0].message
    data = _zip(
        [
            ("w.safetensors", _overflow_safetensors(), zipfile.ZIP_STORED),
            ("model.pkl", EVIL, zipfile.ZIP_DEFLATED),
        ]
    )
    report = scan_bytes(data, "m.zip")
    assert _critical_at(report, "!model.pkl")
    assert "safetensors.size" in {f.rule for f in report.findings}


def test_unsupported_method_is_a_finding_and_next_member_is_scanned() -> None:
    data = bytearray(_zip([("a.bin", b"x" * 64, 0), ("b.pkl", EVIL, 0)]))
    # rewrite the first member's method to 9 (deflate64) in its local and central headers
    struct.pack_into("<H", data, 8, 9)
    cd = data.index(b"PK\x01\x02")
    struct.pack_into("<H", data, cd + 10, 9)
    report = scan_bytes(bytes(data), "m.zip")
    unsupported = [f for f in report.findings if f.rule == "zip.unsupported-method"]
    assert len(unsupported) == 1 and unsupported[0].location.endswith("!a.bin")
    assert "deflate64" in unsupported[0].message
    assert _critical_at(report, "!b.pkl")


def test_internal_error_is_a_high_finding_naming_the_member(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(buf: object, location: str) -> list[object]:
        raise RuntimeError("simulated scanner bug")

    monkeypatch.setattr(scan_mod.structured, "check_safetensors", broken)
    data = _zip(
        [
            ("w.safetensors", _overflow_safetensors(), zipfile.ZIP_STORED),
            ("model.pkl", EVIL, zipfile.ZIP_STORED),
        ]
    )
    report = scan_bytes(data, "m.zip")
    errors = [f for f in report.findings if f.rule == "scan.internal-error"]
    assert [(f.severity, f.location) for f in errors] == [(Severity.HIGH, "m.zip!w.safetensors")]
    assert "simulated scanner bug" in errors[0].message
    assert _critical_at(report, "!model.pkl")


def test_verdict_is_never_error_with_zero_findings_when_a_payload_follows() -> None:
    broken_zip = b"PK\x03\x04" + b"\xff" * 40  # unreadable nested container first
    data = _zip([("inner.zip", broken_zip, 0), ("x.pkl", EVIL, 8)])
    report = ScanReport(files=[scan_bytes(data, "m.zip")])
    assert report.exit_code() is ExitCode.FINDINGS
    assert _critical_at(report.files[0], "!x.pkl")


# --------------------------------------------------------------------------- bombs
@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return bomb_corpus(80)  # 80 MiB each: above the 64 MiB a small file may expand to


def test_every_bomb_is_a_named_finding_within_budget(
    bombs: dict[str, bytes], tmp_path: Path
) -> None:
    assert len(bombs) >= 13
    for name, data in bombs.items():
        path = tmp_path / name
        path.write_bytes(data)
        start = time.monotonic()
        report = scan_paths([path])
        elapsed = time.monotonic() - start
        rules = {f.rule for f in report.findings}
        assert "container.decompression-bomb" in rules, (name, rules, report.errors)
        assert report.exit_code() is ExitCode.FINDINGS
        # far inside the 60 s budget: the byte limit trips after 64 MiB of output
        assert elapsed < 10, (name, elapsed)


def test_bomb_memory_is_bounded(bombs: dict[str, bytes], tmp_path: Path) -> None:
    """Peak RSS growth of a fresh process stays within a few times the 64 MiB allowance."""
    names = ("zip-nested.zip", "gzip-nested.gz", "zip-overlap.zip", "npz-lzma.npz")
    for name in names:
        (tmp_path / name).write_bytes(bombs[name])
    code = (
        "import resource, sys\n"
        "from advlab.serialization.scan import scan_paths\n"
        "rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
        "before = rss()\n"
        "code = scan_paths(sys.argv[1:]).exit_code()\n"
        "print(int(code), rss() - before)\n"
    )
    paths = [str(tmp_path / n) for n in names]
    out = subprocess.run(
        [sys.executable, "-c", code, *paths], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    exit_code, grown = map(int, out.stdout.split())
    assert exit_code == ExitCode.FINDINGS
    assert grown < 4 * DEFAULT.ratio_floor_bytes, grown / MIB


def test_payload_before_a_bomb_is_reported() -> None:
    data = write_zip([zeros_entry("a.bin", 1), zeros_entry("b.bin", 80)])
    with_payload = _zip([("x.pkl", EVIL, 8), ("bomb.zip", data, 0)])
    report = scan_bytes(with_payload, "m.zip")
    rules = {f.rule for f in report.findings}
    assert _critical_at(report, "!x.pkl") and "container.decompression-bomb" in rules


def test_time_budget_is_checked_inside_decompression(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a clock that advances 1 s per reading and a 5 s budget, decompression of a 64-chunk
    member (byte limits lifted) stops inside that member, after a handful of chunks."""
    clock = itertools.count()
    monkeypatch.setattr(containers.time, "monotonic", lambda: float(next(clock)))
    data = write_zip([zeros_entry("m.bin", 64), zeros_entry("n.bin", 1)])
    big = Limits(time_budget_s=5.0, ratio_floor_bytes=1 << 40, max_ratio=1e12)
    report = scan_bytes(data, "m.zip", options=ScanOptions(limits=big))
    assert [(f.rule, f.location) for f in report.real_findings] == [("scan.budget", "m.zip!m.bin")]
    assert next(clock) < 20  # stopped after a few chunks, not after all 64


def test_oversized_stored_member_is_a_limit_not_a_bomb_and_siblings_are_scanned() -> None:
    data = _zip([("big.bin", b"\1" * (2 << 20), 0), ("x.pkl", EVIL, 0)])
    report = scan_bytes(data, "m.zip", ScanOptions(limits=Limits(max_member_bytes=1 << 20)))
    limits = [(f.rule, f.severity, f.location) for f in report.findings if "container" in f.rule]
    assert limits == [("container.limit", Severity.MEDIUM, "m.zip!big.bin")]
    assert _critical_at(report, "!x.pkl")


def test_reader_bug_on_one_member_is_a_finding_and_the_walk_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = zips.decompress_member

    def flaky(method: int, raw: bytes, budget: containers.Budget) -> bytes:
        if method == zipfile.ZIP_LZMA:
            raise RuntimeError("simulated reader bug")
        return real(method, raw, budget)

    monkeypatch.setattr(zips, "decompress_member", flaky)
    data = _zip([("a.pkl", BENIGN, zipfile.ZIP_LZMA), ("b.pkl", EVIL, zipfile.ZIP_STORED)])
    report = scan_bytes(data, "m.zip")
    errors = [
        (f.rule, f.severity, f.location)
        for f in report.findings
        if f.severity is not Severity.CRITICAL
    ]
    assert errors == [("scan.internal-error", Severity.HIGH, "m.zip!a.pkl")]
    assert _critical_at(report, "!b.pkl")


def test_7z_bomb_is_stopped_inside_extraction() -> None:
    pytest.importorskip("py7zr")
    from advlab.serialization.corpus import _make_7z

    data = _make_7z({"a.bin": b"\0" * (8 << 20)})
    small = Limits(ratio_floor_bytes=1 << 20)  # allowance: max(1 MiB, 200 x ~1.5 KB)
    report = scan_bytes(data, "x.7z", ScanOptions(limits=small))
    assert [f.rule for f in report.findings] == ["container.decompression-bomb"]
    assert "expands beyond" in report.findings[0].message


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("gap", [b"\xff" * 512, b""], ids=["garbage-block", "concatenated"])
def test_tar_member_after_a_bad_block_or_end_marker_is_scanned(gap: bytes) -> None:
    first = _tar([("a.bin", b"x" * 10)])
    first = first[:1024] if gap else first  # garbage: drop the end marker and insert a bad block
    report = scan_bytes(first + gap + _tar([("p.pkl", EVIL)]), "t.tar")
    assert _critical_at(report, "t.tar!p.pkl"), report.findings

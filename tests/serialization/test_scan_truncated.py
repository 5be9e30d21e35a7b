"""Regression tests: a truncated or corrupt compressed stream never hides its decodable part.

Each sample compresses a CRITICAL pickle (alone, or as a tar member) and then damages the
stream *after* the payload: cut short, a corrupt tail, or garbage appended. The verdict must
name the payload and report the damage itself as a HIGH ``container.corrupt-stream`` finding
naming the stream; it is never "error with 0 findings". Payloads are inert bytes, never loaded.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from advlab.serialization.bombs import gzip_zeros
from advlab.serialization.containers import Limits
from advlab.serialization.corpus_builders import P2, _stored_zip, _tar, call, g, u
from advlab.serialization.findings import ExitCode, FileReport, Severity
from advlab.serialization.scan import ScanOptions, scan_bytes, scan_paths

EVIL = P2 + call(g("os", "system"), u("id")) + b"."
#: incompressible filler after the payload, longer than one bzip2 block at level 1 (100 kB),
#: so that a cut in the filler leaves the payload's block complete for every codec
FILLER = random.Random(0).randbytes(300_000)

COMPRESSORS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "gzip": ("gzip", lambda d: gzip.compress(d, mtime=0)),
    "bzip2": ("bzip2", lambda d: bz2.compress(d, compresslevel=1)),
    "xz": ("xz", lzma.compress),
    "lzma-alone": ("lzma", lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE)),
}


def _cut(data: bytes) -> bytes:
    return data[: len(data) * 3 // 4]


def _corrupt_tail(data: bytes) -> bytes:
    return data[:-24] + bytes(b ^ 0xFF for b in data[-24:])


def _garbage(data: bytes) -> bytes:
    return data + b"not a compressed stream"


DAMAGE = {"truncated": _cut, "corrupt-tail": _corrupt_tail, "trailing-garbage": _garbage}


def _rules_at(report: FileReport, location: str) -> set[tuple[str, Severity]]:
    return {(f.rule, f.severity) for f in report.findings if f.location == location}


def _assert_found(report: FileReport, stream: str, payload: str) -> None:
    assert ("container.corrupt-stream", Severity.HIGH) in _rules_at(report, stream), (
        report.findings,
        report.errors,
    )
    assert any(
        f.severity is Severity.CRITICAL and f.location == payload for f in report.findings
    ), report.findings
    assert "scan.internal-error" not in {f.rule for f in report.findings}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("codec", sorted(COMPRESSORS))
def test_damaged_stream_with_a_pickle_reports_payload_and_damage(codec: str, damage: str) -> None:
    kind, compress = COMPRESSORS[codec]
    data = DAMAGE[damage](compress(EVIL + FILLER))
    report = scan_bytes(data, "m.bin")
    _assert_found(report, "m.bin", f"m.bin!<{kind}>")
    assert not report.errors


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("codec", sorted(COMPRESSORS))
def test_damaged_compressed_tar_reports_member_payload(codec: str, damage: str) -> None:
    kind, compress = COMPRESSORS[codec]
    data = DAMAGE[damage](compress(_tar({"a.pkl": EVIL, "filler.bin": FILLER})))
    report = scan_bytes(data, "m.tar.x")
    _assert_found(report, "m.tar.x", f"m.tar.x!<{kind}>!a.pkl")


def test_tar_member_cut_short_is_scanned_and_named() -> None:
    """The cut falls inside the tar member holding the payload: its present bytes are scanned."""
    tar = _tar({"a.bin": b"x" * 100, "p.pkl": EVIL + FILLER})
    data = gzip.compress(tar, mtime=0)
    report = scan_bytes(_cut(data), "m.tgz")
    _assert_found(report, "m.tgz!<gzip>!p.pkl", "m.tgz!<gzip>!p.pkl")


def test_truncated_gzip_inside_a_zip_is_scanned() -> None:
    inner = _cut(gzip.compress(EVIL + FILLER, mtime=0))
    report = scan_bytes(_stored_zip({"ok.pkl": P2 + b"}q\x00.", "w.gz": inner}), "m.zip")
    _assert_found(report, "m.zip!w.gz", "m.zip!w.gz!<gzip>")


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2])
def test_zip_member_with_a_corrupt_tail_keeps_its_decoded_prefix(method: int) -> None:
    """The member's compressed data is cut: the payload before the cut is still analysed."""
    level = 1 if method == zipfile.ZIP_BZIP2 else None
    good = zipfile.ZipInfo("p.pkl")
    good.compress_type = method
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(good, EVIL + FILLER, compresslevel=level)
    data = bytearray(buf.getvalue())
    start = 30 + len("p.pkl")
    end = data.rindex(b"PK\x01\x02")
    data[start + (end - start) * 3 // 4 : end] = b"\0" * (end - start - (end - start) * 3 // 4)
    report = scan_bytes(bytes(data), "m.zip")
    _assert_found(report, "m.zip!p.pkl", "m.zip!p.pkl")


def test_a_nested_truncated_stream_is_reported_at_each_level() -> None:
    """gzip of a truncated xz: the damage is named at the inner stream, the payload found."""
    data = gzip.compress(_cut(lzma.compress(EVIL + FILLER)), mtime=0)
    report = scan_bytes(data, "m.gz")
    _assert_found(report, "m.gz!<gzip>", "m.gz!<gzip>!<xz>")
    assert not _rules_at(report, "m.gz")  # the outer gzip is intact


def test_verdict_on_a_truncated_file_is_findings_not_error(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl.gz"
    path.write_bytes(_cut(gzip.compress(EVIL + FILLER, mtime=0)))
    report = scan_paths([path])
    assert report.exit_code() == ExitCode.FINDINGS
    assert not report.errors


def test_nothing_decodable_is_an_error_not_clean() -> None:
    """bzip2 decodes whole blocks: cut inside the first block, nothing is decodable."""
    data = bz2.compress(EVIL + b"x" * 1000)
    report = scan_bytes(data[: len(data) // 2], "m.bz2")
    assert report.errors and "bzip2" in report.errors[0]
    assert not report.real_findings


def test_intact_multi_stream_and_padding_are_not_damage() -> None:
    """Concatenated streams (and xz / gzip zero padding) are what the readers accept."""
    for kind, compress in COMPRESSORS.values():
        data = compress(EVIL) + compress(b"harmless") + b"\0" * 8
        report = scan_bytes(data, "m")
        assert not _rules_at(report, "m"), (kind, report.findings)
        assert any(f.severity is Severity.CRITICAL for f in report.findings), kind
        assert not report.errors, (kind, report.errors)


def test_truncated_bomb_is_still_a_bomb_within_budget() -> None:
    small = Limits(ratio_floor_bytes=1 << 20, time_budget_s=10.0)
    data = _cut(gzip_zeros(64))
    report = scan_bytes(data, "b.gz", ScanOptions(limits=small))
    assert "container.decompression-bomb" in {f.rule for f in report.findings}, report.findings

"""Property-based fuzzing of the scanner's container layer (zip, tar, npz, safetensors).

Properties, for random and mutated containers:

* never a traceback: no exception escapes and no ``scan.internal-error`` finding;
* never blinded: a CRITICAL pickle planted as the *last* member of a zip or tar, after any
  number of random / mutated / differently compressed members, is always reported, and so is
  one in a gzip / bzip2 / xz stream followed by a truncated or corrupted stream;
* always within the budget.

Example counts are modest for CI; set ``ADVLAB_FUZZ_EXAMPLES`` (benchmarks use 2000) to run more.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import struct
import tarfile
import time
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advlab.serialization.corpus import P2, call, g, u
from advlab.serialization.findings import FileReport, Severity
from advlab.serialization.scan import scan_bytes
from advlab.serialization.structured import check_safetensors

EXAMPLES = int(os.environ.get("ADVLAB_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PAYLOAD = P2 + call(g("os", "system"), u("id")) + b"."
METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
TIME_BOUND_S = 5.0


def _zip(members: list[tuple[str, bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, method in members:
            z.writestr(name, data, compress_type=method)
    return buf.getvalue()


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _safetensors(header: object, data_len: int) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"\0" * data_len


SEEDS = [
    _zip([(f"a{m}.pkl", P2 + b"}q\x00.", m) for m in METHODS]),
    _zip([("arr_0.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<f8'}", zipfile.ZIP_LZMA)]),
    _tar([("m.bin", P2 + b"]q\x00."), ("n.bin", b"x" * 40)]),
    _safetensors({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, 8),
    b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }\n",
]


def _scan(data: bytes) -> FileReport:
    start = time.monotonic()
    report = scan_bytes(data, "fuzz")
    elapsed = time.monotonic() - start
    assert elapsed < TIME_BOUND_S, f"scan took {elapsed:.2f}s"
    assert "scan.internal-error" not in {f.rule for f in report.findings}, report.findings
    assert not any("internal error" in e for e in report.errors), report.errors
    return report


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed container (or random bytes) with a few byte-level mutations."""
    if draw(st.booleans()):
        return draw(st.binary(min_size=1, max_size=512))
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
        else:
            data = data[: max(pos, 1)]
    return bytes(data) or b"\0"


def _planted(report: FileReport, name: str) -> bool:
    return any(
        f.severity is Severity.CRITICAL and f.location == f"fuzz!{name}" for f in report.findings
    )


@FUZZ
@given(st.lists(st.tuples(mutated(), st.sampled_from(METHODS)), min_size=1, max_size=4))
def test_zip_payload_after_random_members_is_always_found(
    members: list[tuple[bytes, int]],
) -> None:
    entries = [(f"m{i}.bin", data, method) for i, (data, method) in enumerate(members)]
    report = _scan(_zip([*entries, ("zz/payload.pkl", PAYLOAD, zipfile.ZIP_DEFLATED)]))
    assert _planted(report, "zz/payload.pkl"), report.findings


@FUZZ
@given(st.lists(mutated(), min_size=1, max_size=4))
def test_tar_payload_after_random_members_is_always_found(members: list[bytes]) -> None:
    entries = [(f"m{i}.bin", data) for i, data in enumerate(members)]
    report = _scan(_tar([*entries, ("payload.pkl", PAYLOAD)]))
    assert _planted(report, "payload.pkl"), report.findings


@FUZZ
@given(mutated())
def test_mutated_containers_never_crash(data: bytes) -> None:
    _scan(data)


_DIM = st.one_of(st.integers(-2, 64), st.integers(0, 10**400), st.text(max_size=3), st.none())
_ENTRY = st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(["F32", "F16", "I8", "BOOL", "F4", "bogus", 7]),
        "shape": st.one_of(st.lists(_DIM, max_size=4), st.integers(), st.none()),
        "data_offsets": st.one_of(
            st.lists(st.integers(-(10**30), 10**400), min_size=0, max_size=3), st.text(max_size=2)
        ),
    }
)


@FUZZ
@given(st.dictionaries(st.text(max_size=8), _ENTRY, max_size=4), st.integers(0, 64))
def test_safetensors_headers_never_crash(header: dict[str, object], data_len: int) -> None:
    blob = _safetensors(header, data_len)
    for finding in check_safetensors(blob, "h"):
        assert len(finding.message) < 400  # never the whole input in a message
    report = _scan(_zip([("w.safetensors", blob, 0), ("payload.pkl", PAYLOAD, 8)]))
    assert _planted(report, "payload.pkl")


_STREAMS = {
    "gzip": lambda d: gzip.compress(d, mtime=0),
    "bzip2": lambda d: bz2.compress(d, compresslevel=1),
    "xz": lzma.compress,
}


@FUZZ
@given(
    st.sampled_from(sorted(_STREAMS)),
    st.binary(min_size=0, max_size=2048),
    st.integers(0, 4096),
    st.lists(st.tuples(st.integers(0, 4096), st.integers(0, 255)), max_size=4),
)
def test_damaged_stream_after_a_payload_stream_never_hides_it(
    kind: str, tail: bytes, cut: int, flips: list[tuple[int, int]]
) -> None:
    """A payload stream followed by a second stream that is cut and/or corrupted anywhere."""
    compress = _STREAMS[kind]
    second = bytearray(compress(tail))
    for pos, value in flips:
        if second:
            second[pos % len(second)] = value
    data = compress(PAYLOAD) + bytes(second[: max(cut, 1)])
    report = _scan(data)
    assert any(
        f.severity is Severity.CRITICAL and f.location == f"fuzz!<{kind}>" for f in report.findings
    ), (report.findings, report.errors)

"""Fuzzing: random bytes and mutated pickles/containers never crash, hang or execute anything.

"Never execute" is asserted with a canary: every seed payload would create ``CANARY`` if any
of its opcodes ran. "Never crash" means no exception escapes and no ``internal error`` is
reported (the scanner's last-resort handler turns bugs into that message).
"""

from __future__ import annotations

import gzip
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advlab.serialization.corpus import P2, P4, _stored_zip, call, g, su, u
from advlab.serialization.scan import scan_bytes

CANARY = Path(os.environ.get("TMPDIR", "/tmp")) / f"advlab_fuzz_canary_{os.getpid()}"
CODE = f"open({str(CANARY)!r}, 'w').write('x')"
SEEDS = [
    P2 + call(g("builtins", "exec"), u(CODE)) + b"0}.",
    b"cbuiltins\nexec\n(S'" + CODE.replace("'", '"').encode() + b"'\ntR.",
    P4 + su("builtins") + b"\x94" + su("exec") + b"\x94" + b"00h\x00h\x01\x93(" + su(CODE) + b"tR.",
    pickle.dumps({"a": [1, 2.0, None], "b": (b"x", "y"), "c": {1}}, protocol=2),
    pickle.dumps({"a": list(range(20)), "b": frozenset({1})}, protocol=5),
    _stored_zip({"archive/data.pkl": P2 + call(g("builtins", "exec"), u(CODE)) + b"."}),
    gzip.compress(P2 + call(g("builtins", "exec"), u(CODE)) + b".", mtime=0),
]
TIME_BOUND_S = 5.0
FUZZ = settings(
    max_examples=int(os.environ.get("ADVLAB_FUZZ_EXAMPLES", "150")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _check(data: bytes) -> None:
    start = time.monotonic()
    report = scan_bytes(data, "fuzz")
    elapsed = time.monotonic() - start
    assert elapsed < TIME_BOUND_S, f"scan took {elapsed:.2f}s"
    assert not any("internal error" in e for e in report.errors), report.errors
    assert "scan.internal-error" not in {f.rule for f in report.findings}, report.findings
    assert not CANARY.exists(), "a payload executed during scanning"


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[pos : pos + draw(st.integers(1, 8))]
        elif op == "truncate":
            data = data[:pos]
        elif op == "dup":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 16))]
    return bytes(data) or b"\x80"


@FUZZ
@given(st.binary(min_size=1, max_size=4096))
def test_random_bytes(data: bytes) -> None:
    _check(data)


@FUZZ
@given(mutated())
def test_mutated_pickles_and_containers(data: bytes) -> None:
    _check(data)


@FUZZ
@given(
    st.sampled_from(
        [
            b"\x80\x02",
            b"\x80\x04",
            b"\x80\x05",
            b"PK\x03\x04",
            b"\x93NUMPY\x01\x00",
            b"\x1f\x8b",
            b"7z\xbc\xaf\x27\x1c",
            b"\x89HDF\r\n\x1a\n",
        ]
    ),
    st.binary(max_size=2048),
)
def test_magic_prefixed_garbage(prefix: bytes, tail: bytes) -> None:
    _check(prefix + tail)


def test_seeds_are_detected_and_canary_absent() -> None:
    for seed in SEEDS[:3] + SEEDS[5:]:
        assert scan_bytes(seed).real_findings, seed[:20]
    assert not CANARY.exists()


HARNESS = Path(__file__).with_name("atheris_scan_harness.py")


def test_atheris_coverage_guided_fuzzing(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    canary = tmp_path / "canary"
    env = {**os.environ, "ADVLAB_FUZZ_CANARY": str(canary)}
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for i, seed in enumerate(SEEDS):
        (seeds / f"seed{i}").write_bytes(seed.replace(str(CANARY).encode(), str(canary).encode()))
    res = subprocess.run(
        [
            sys.executable,
            str(HARNESS),
            "-runs=3000",
            "-max_len=2048",
            "-seed=1",
            f"-artifact_prefix={tmp_path}/",
            str(seeds),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Done 3000 runs" in res.stderr
    assert not canary.exists()

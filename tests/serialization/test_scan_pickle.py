"""Unit tests of the symbolic pickle machine (never unpickles anything)."""

from __future__ import annotations

import collections
import io
import pickle

import numpy as np
import pytest

from advlab.serialization.corpus import P2, P4, call, g, su, u
from advlab.serialization.findings import Severity
from advlab.serialization.pickle_analysis import analyze_pickles
from advlab.serialization.policy import CORE_ALLOWLIST, Policy, fix_imports, rank


def rules(data: bytes, policy: Policy | None = None) -> set[str]:
    return {f.rule for f in analyze_pickles(data, "t", policy).findings if not f.is_note}


def globals_of(data: bytes) -> list[str]:
    return analyze_pickles(data, "t").globals


@pytest.mark.parametrize("proto", range(6))
def test_benign_containers_every_protocol(proto: int) -> None:
    obj = {
        "a": [1, 2.5, None, True],
        "b": (b"raw", "text"),
        "c": {1, 2},
        "d": frozenset({3}),
        "e": collections.OrderedDict(x=1),
        "f": bytearray(b"z"),
        "g": 10**30,
        "h": 1j,
    }
    res = analyze_pickles(pickle.dumps(obj, protocol=proto), "t")
    assert res.is_pickle and res.pickles == 1 and res.error is None
    assert [f for f in res.findings if not f.is_note] == []


@pytest.mark.parametrize("proto", [2, 3, 4, 5])
def test_numpy_arrays_are_allowlisted(proto: int) -> None:
    data = pickle.dumps({"a": np.arange(6.0).reshape(2, 3), "s": np.float32(1.5)}, protocol=proto)
    assert rules(data) == set()


def test_stack_global_through_memo_resolves_to_the_real_target() -> None:
    data = (
        P4 + su("os") + b"\x94" + su("system") + b"\x94" + b"00h\x00h\x01\x93(" + su("x") + b"tR."
    )
    assert "os.system" in globals_of(data)
    assert {"pickle.global", "pickle.call"} <= rules(data)


def test_memo_shadowing_does_not_fool_the_analyser() -> None:
    # memo slot 0 first holds a benign name, then is overwritten with "system"
    data = (
        P4
        + su("os")
        + b"\x94"
        + su("getcwd")
        + b"q\x01"
        + su("system")
        + b"q\x01"
        + b"000h\x00h\x01\x93)R."
    )
    assert globals_of(data) == ["os.system"]


def test_non_literal_stack_global_operands_are_unknown() -> None:
    data = P4 + call(g("builtins", "str"), su("os")) + su("system") + b"\x93)R."
    found = analyze_pickles(data, "t").findings
    assert any(f.rule == "pickle.dynamic-global" for f in found)
    assert any(f.rule == "pickle.call" and f.severity is Severity.CRITICAL for f in found)


def test_findings_before_a_parse_error_are_kept() -> None:
    data = P2 + call(g("os", "system"), u("id")) + b"\xff garbage"
    res = analyze_pickles(data, "t")
    assert res.error is not None
    got = {f.rule for f in res.findings}
    assert {"pickle.global", "pickle.call", "pickle.malformed"} <= got


def test_discarded_call_result_is_flagged_even_for_allowlisted_callables() -> None:
    data = P2 + call(g("collections", "OrderedDict")) + b"0" + b"}."
    res = analyze_pickles(data, "t")
    assert [f.severity for f in res.findings if f.rule == "pickle.discarded-call"] == [Severity.LOW]


def test_call_left_on_stack_at_stop_is_discarded() -> None:
    data = P2 + call(g("os", "system"), u("id")) + b"}."
    assert "pickle.discarded-call" in rules(data)


@pytest.mark.parametrize(
    "data",
    [
        b"(S'id'\nios\nsystem\n.",  # INST
        P2 + b"(" + g("os", "system") + u("id") + b"o.",  # OBJ
        P2 + g("subprocess", "Popen") + b"(" + u("id") + b"t\x81.",  # NEWOBJ
        P4 + g("subprocess", "Popen") + b"(" + u("id") + b"t}\x92.",  # NEWOBJ_EX
    ],
)
def test_every_call_opcode_is_a_call(data: bytes) -> None:
    assert "pickle.call" in rules(data)


def test_ext_opcodes_are_findings() -> None:
    for op in (b"\x82\x01", b"\x83\x01\x00", b"\x84\x01\x00\x00\x00"):
        assert "pickle.ext" in rules(P2 + op + b")R.")


def test_build_on_a_global_is_state_tampering() -> None:
    data = P2 + g("torch", "_utils") + b"N}" + u("x") + b"Ns\x86b."
    assert "pickle.build-global" in rules(data)


def test_python2_names_are_mapped() -> None:
    assert fix_imports("__builtin__", "eval") == ("builtins", "eval")
    data = b"c__builtin__\neval\n(S'1'\ntR."
    assert globals_of(data) == ["builtins.eval"]
    assert any(f.severity is Severity.CRITICAL for f in analyze_pickles(data, "t").findings)


def test_dotted_names_walk_attributes_and_rank_critical() -> None:
    assert rank("torch", "serialization.os.system") is Severity.CRITICAL
    assert rank("collections", "OrderedDict.fromkeys") is Severity.HIGH
    # a dotted spelling of an allowlisted function is not allowlisted
    assert not Policy().classify("torch", "_utils._rebuild_tensor_v2").allowed


def test_allowlist_is_exact_and_denylist_only_ranks() -> None:
    p = Policy()
    assert p.classify("torch._utils", "_rebuild_tensor_v2").allowed
    assert p.classify("numpy._core.multiarray", "_reconstruct").allowed
    assert p.classify("numpy.core.multiarray", "_reconstruct").allowed
    harmless_but_unknown = p.classify("fractions", "Fraction")
    assert not harmless_but_unknown.allowed and harmless_but_unknown.severity is Severity.MEDIUM
    assert p.classify("os", "system").severity is Severity.CRITICAL
    assert p.classify("pip", "main").severity is Severity.CRITICAL
    assert p.classify("pkgutil", "resolve_name").severity is Severity.CRITICAL
    assert "builtins.eval" not in CORE_ALLOWLIST and "builtins.getattr" not in CORE_ALLOWLIST


def test_extra_allow_extends_the_allowlist() -> None:
    data = P2 + call(g("fractions", "Fraction"), b"K\x01") + b"."
    assert rules(data) == {"pickle.global", "pickle.call"}
    assert rules(data, Policy(extra_allow=frozenset({"fractions.Fraction"}))) == set()


def test_codecs_encode_only_with_latin1() -> None:
    ok = P2 + call(g("_codecs", "encode"), u("abc"), u("latin1")) + b"."
    bad = P2 + call(g("_codecs", "encode"), u("abc"), u("rot13")) + b"."
    assert rules(ok) == set()
    assert "pickle.call" in rules(bad)


def test_multiple_pickles_are_all_analysed() -> None:
    data = (
        pickle.dumps(1, protocol=2)
        + pickle.dumps([2], protocol=0)
        + P2
        + call(g("os", "system"), u("id"))
        + b"."
    )
    res = analyze_pickles(data, "t")
    assert res.pickles == 3
    assert "os.system" in res.globals


def test_trailing_non_pickle_bytes_are_a_note_only() -> None:
    res = analyze_pickles(pickle.dumps({"a": 1}, protocol=2) + b"\x00\x01\x02", "t")
    assert res.pickles == 1
    assert [f.rule for f in res.findings] == ["pickle.trailing-data"]
    assert res.findings[0].is_note


def test_text_that_is_not_a_pickle_is_not_reported() -> None:
    res = analyze_pickles(b"hello world, this is a readme\n", "t")
    assert not res.is_pickle and res.findings == []


def test_legacy_torch_stops_after_five_pickles() -> None:
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save({"w": torch.randn(64)}, buf, _use_new_zipfile_serialization=False)
    res = analyze_pickles(buf.getvalue(), "t")
    assert res.torch_legacy and res.pickles == 5
    assert [f.rule for f in res.findings if not f.is_note] == []


def test_joblib_raw_array_bytes_are_skipped_exactly() -> None:
    joblib = pytest.importorskip("joblib")
    buf = io.BytesIO()
    structured = np.zeros(5, dtype=[("x", "<f8"), ("y", "<i4")])
    objects = np.array([1, "two", None], dtype=object)
    joblib.dump({"a": np.arange(1000.0), "b": structured, "o": objects, "i": np.arange(7)}, buf)
    res = analyze_pickles(buf.getvalue(), "t")
    assert res.error is None and res.pickles == 1
    assert [f for f in res.findings if not f.is_note] == []


def test_joblib_object_array_payload_is_found() -> None:
    joblib = pytest.importorskip("joblib")

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            import os

            return os.system, ("id",)

    buf = io.BytesIO()
    joblib.dump({"a": np.arange(10.0), "o": np.array([Evil()], dtype=object)}, buf)
    assert "posix.system" in analyze_pickles(buf.getvalue(), "t").globals


def test_time_budget_turns_into_a_finding() -> None:
    data = P2 + b"]" + b"(" + b"K\x01" * 200_000 + b"e."
    res = analyze_pickles(data, "t", time_budget_s=0.0)
    assert any(f.rule == "pickle.budget" for f in res.findings)


def test_huge_length_prefix_does_not_allocate() -> None:
    res = analyze_pickles(b"\x80\x04\x8e" + b"\xff" * 8, "t")
    assert res.error is not None and "truncated" in res.error

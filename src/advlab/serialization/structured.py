"""Checks for the non-pickle model formats: NumPy ``.npy``, safetensors and Keras.

* ``.npy`` with an object dtype stores a pickle after the header; ``numpy.load`` runs it when
  ``allow_pickle=True`` (CVE-2019-6446). The header is a Python literal parsed with
  :func:`ast.literal_eval`, as NumPy itself does.
* safetensors cannot carry code, but a hostile header (overlapping or out-of-bounds offsets,
  wrong sizes, unknown dtypes, duplicate keys, oversized header) attacks the parsers that trust
  it; we validate it the way the reference Rust implementation does.
* Keras ``.keras`` / ``.h5``: ``Lambda`` layers carry marshalled Python bytecode, and configs may
  name arbitrary ``module``/``class_name`` pairs that Keras imports (CVE-2024-3660,
  CVE-2025-1550 safe_mode bypass via ``config.json``).
"""

from __future__ import annotations

import ast
import io
import json
import logging
import math
import struct
from collections.abc import Iterator
from typing import Any

from advlab.serialization.containers import ContainerError
from advlab.serialization.findings import Finding, Severity
from advlab.serialization.policy import rank

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- npy


def parse_npy_header(buf: Any) -> tuple[dict[str, Any], int]:
    """Return the header dict and the data offset of an ``.npy`` stream."""
    if len(buf) < 10:
        raise ValueError("npy too short")
    major = buf[6]
    if major == 1:
        (hlen,) = struct.unpack("<H", bytes(buf[8:10]))
        start = 10
    elif major in (2, 3):
        (hlen,) = struct.unpack("<I", bytes(buf[8:12]))
        start = 12
    else:
        raise ValueError(f"unsupported npy version {major}")
    if hlen > 1 << 20 or start + hlen > len(buf):
        raise ValueError("npy header length out of range")
    text = bytes(buf[start : start + hlen]).decode("utf-8" if major == 3 else "latin-1")
    header = ast.literal_eval(text)
    if not isinstance(header, dict) or not {"descr", "fortran_order", "shape"} <= header.keys():
        raise ValueError("npy header is not a valid dict")
    return header, start + hlen


def _descr_has_object(descr: Any) -> bool:
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, (list, tuple)):
        return any(_descr_has_object(d) for d in descr)
    return False


def check_npy(buf: Any, location: str) -> tuple[list[Finding], int | None]:
    """Findings for an ``.npy`` stream and, for object arrays, the offset of the pickle."""
    try:
        header, offset = parse_npy_header(buf)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        return [
            Finding("npy.malformed", Severity.LOW, f"malformed npy header: {exc}", location)
        ], None
    if _descr_has_object(header["descr"]):
        return [
            Finding(
                "npy.object-array",
                Severity.MEDIUM,
                "object array: numpy.load(allow_pickle=True) unpickles the data",
                location,
                offset,
            )
        ], offset
    findings: list[Finding] = []
    try:
        import numpy as np

        dtype = np.lib.format.descr_to_dtype(header["descr"])
        shape = header["shape"]
        expected = math.prod(shape) * dtype.itemsize
        if expected != len(buf) - offset:
            findings.append(
                Finding(
                    "npy.size-mismatch",
                    Severity.LOW,
                    f"data is {len(buf) - offset} bytes, header implies {expected}",
                    location,
                )
            )
    except (TypeError, ValueError) as exc:
        findings.append(
            Finding("npy.malformed", Severity.LOW, f"bad npy dtype/shape: {exc}", location)
        )
    return findings, None


# --------------------------------------------------------------------- safetensors
_ST_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "F64": 64,
    "I64": 64,
    "U64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}


def _no_dup_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate keys in safetensors header")
    return dict(pairs)


def _short(v: Any, limit: int = 80) -> str:
    """Integer arithmetic only (shapes may be astronomically large), clipped for messages."""
    text = repr(v) if not isinstance(v, int) or v.bit_length() < 4000 else f"~2**{v.bit_length()}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _capped_bits(shape: list[int], bits_per: int, cap: int) -> int:
    """Bits of a tensor, or the first partial product above ``cap`` (no runaway big ints)."""
    if 0 in shape:
        return 0
    total = bits_per
    for dim in shape:
        total *= dim
        if total > cap:
            return total
    return total


def check_safetensors(buf: Any, location: str) -> list[Finding]:
    """Validate a safetensors header: offsets, dtypes, sizes, overlaps and coverage."""

    def bad(rule: str, msg: str, sev: Severity = Severity.MEDIUM) -> Finding:
        return Finding(f"safetensors.{rule}", sev, msg, location)

    (n,) = struct.unpack("<Q", bytes(buf[:8]))
    try:
        header = json.loads(bytes(buf[8 : 8 + n]).decode("utf-8"), object_pairs_hook=_no_dup_pairs)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return [bad("header", f"header is not valid JSON: {exc}")]
    if not isinstance(header, dict):
        return [bad("header", "header is not a JSON object")]
    data_len = len(buf) - 8 - n
    findings: list[Finding] = []
    meta = header.pop("__metadata__", None)
    if meta is not None and not (
        isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())
    ):
        findings.append(bad("metadata", "__metadata__ must map strings to strings", Severity.LOW))
    spans: list[tuple[int, int, str]] = []
    for name, info in header.items():
        if not isinstance(info, dict):
            findings.append(bad("entry", f"tensor {_short(name)}: entry is not an object"))
            continue
        dtype, shape, offs = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in _ST_BITS:
            findings.append(bad("dtype", f"tensor {_short(name)}: unknown dtype {_short(dtype)}"))
            continue
        if not isinstance(shape, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
        ):
            findings.append(bad("shape", f"tensor {_short(name)}: invalid shape {_short(shape)}"))
            continue
        if not (
            isinstance(offs, list)
            and len(offs) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offs)
        ):
            findings.append(
                bad("offsets", f"tensor {_short(name)}: invalid data_offsets {_short(offs)}")
            )
            continue
        begin, end = offs
        if not 0 <= begin <= end <= data_len:
            findings.append(
                bad(
                    "bounds",
                    f"tensor {_short(name)}: offsets {_short(offs)} outside the {data_len}-byte buffer",
                    Severity.HIGH,
                )
            )
            continue
        cap = 8 * data_len + 8
        bits = _capped_bits(shape, _ST_BITS[dtype], cap)
        if bits % 8 or bits // 8 != end - begin:
            need = (
                f"more than the {data_len}-byte buffer"
                if bits > cap
                else (f"{bits // 8} bytes" if bits % 8 == 0 else f"{bits} bits")
            )
            msg = f"tensor {_short(name)}: {end - begin} bytes but {dtype}{_short(shape)} needs "
            findings.append(bad("size", msg + need))
        spans.append((begin, end, name))
    spans.sort()
    cursor = 0
    for begin, end, name in spans:
        if begin < cursor:
            findings.append(
                bad("overlap", f"tensor {_short(name)} overlaps the previous tensor", Severity.HIGH)
            )
        elif begin > cursor:
            findings.append(
                bad("hole", f"{begin - cursor} unindexed bytes before {_short(name)}", Severity.LOW)
            )
        cursor = max(cursor, end)
    if cursor < data_len and not findings:
        findings.append(
            bad(
                "trailing",
                f"{data_len - cursor} unindexed bytes after the last tensor",
                Severity.LOW,
            )
        )
    return findings


# --------------------------------------------------------------------------- keras
_KERAS_MODULES = ("keras", "tensorflow.keras", "tf_keras", "keras_nlp", "keras_hub", "keras_cv")


def _walk(node: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 200:
        return
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v, depth + 1)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, depth + 1)


def check_keras_config(config: Any, location: str) -> list[Finding]:
    """Findings for a Keras model config (``config.json`` or HDF5 ``model_config``)."""
    findings: list[Finding] = []
    for node in _walk(config):
        cls = node.get("class_name")
        module = node.get("module")
        if cls == "Lambda" or cls == "__lambda__":
            findings.append(
                Finding(
                    "keras.lambda",
                    Severity.HIGH,
                    "Lambda layer: marshalled Python bytecode runs when the model is loaded/called",
                    location,
                    detail={
                        "name": str(node.get("config", {}).get("name", "?"))
                        if isinstance(node.get("config"), dict)
                        else "?"
                    },
                )
            )
        elif cls == "TFOpLambda":
            findings.append(
                Finding(
                    "keras.tfoplambda",
                    Severity.MEDIUM,
                    "TFOpLambda layer calls a TensorFlow function by name",
                    location,
                )
            )
        if (
            isinstance(module, str)
            and module
            and not any(module == m or module.startswith(m + ".") for m in _KERAS_MODULES)
        ):
            target = f"{module}.{cls}" if isinstance(cls, str) else module
            sev = max(rank(module, str(cls)), Severity.MEDIUM)
            findings.append(
                Finding(
                    "keras.module",
                    sev,
                    f"config imports {target} from outside Keras (custom object or gadget)",
                    location,
                    detail={"globals": target},
                )
            )
        fn = node.get("function")
        if (
            isinstance(fn, (list, tuple))
            and fn
            and isinstance(fn[0], str)
            and (node.get("function_type") == "lambda")
        ):
            findings.append(
                Finding(
                    "keras.lambda",
                    Severity.HIGH,
                    "serialized lambda function bytecode in config",
                    location,
                )
            )
    return findings


def check_keras_json(raw: bytes, location: str) -> list[Finding]:
    try:
        config = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return [Finding("keras.config", Severity.LOW, f"config.json unreadable: {exc}", location)]
    return check_keras_config(config, location)


def check_hdf5(buf: Any, location: str) -> list[Finding]:
    """Read the Keras attributes of an HDF5 file with h5py (pure metadata, no code)."""
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is in the scan extra
        raise ContainerError("HDF5 file but 'h5py' is not installed") from exc
    findings: list[Finding] = []
    try:
        with h5py.File(io.BytesIO(bytes(buf)), "r") as f:
            attrs = {k: f.attrs[k] for k in ("model_config", "training_config") if k in f.attrs}
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError... on corrupt files
        raise ContainerError(f"unreadable HDF5 file: {type(exc).__name__}: {exc}") from exc
    for key, value in attrs.items():
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        try:
            config = json.loads(text)
        except (ValueError, RecursionError):
            findings.append(Finding("keras.config", Severity.LOW, f"{key} is not JSON", location))
            continue
        findings.extend(check_keras_config(config, f"{location}#{key}"))
    return findings


def is_keras_zip(names: list[str]) -> bool:
    return "config.json" in names and (
        "metadata.json" in names or any(n.endswith(".weights.h5") for n in names)
    )

"""Saving and loading models as safetensors + JSON metadata (never pickle)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from advlab.errors import AdvlabError, InputError, UnsafeFileError
from advlab.models.arch import build
from advlab.paths import excerpt
from advlab.vocab import renamed_params

FORMAT = "advlab-model"
FORMAT_VERSION = 1


@dataclass
class ModelBundle:
    """A model with the metadata a target needs (bounds, preprocessing, classes)."""

    model: nn.Module
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.meta["input_shape"])

    @property
    def bounds(self) -> tuple[float, float]:
        b = self.meta.get("bounds", [0.0, 1.0])
        return float(b[0]), float(b[1])

    @renamed_params(max_queries="query_budget")
    def target(
        self, *, device: str = "auto", query_budget: int | None = None, **options: Any
    ) -> Any:
        """A white-box :class:`~advlab.targets.TorchClassifier` for this model.

        ``options`` go to the ``TorchClassifier`` constructor (e.g. ``memory_format``).
        """
        from advlab.targets.torch import TorchClassifier

        pre = self.meta.get("preprocess")  # checked by load_bundle
        return TorchClassifier(
            self.model,
            bounds=self.bounds,
            input_shape=self.input_shape,
            num_classes=int(self.meta["num_classes"]),
            preprocess=(pre["mean"], pre["std"]) if pre else None,
            device=device,
            query_budget=query_budget,
            **options,
        )


def meta_path(path: Path) -> Path:
    return path.with_suffix(".json")


def save_model(model: nn.Module, path: str | Path, meta: dict[str, Any]) -> Path:
    """Write ``path`` (.safetensors) and its ``.json`` metadata; ``meta`` must hold ``arch``."""
    p = Path(path)
    if p.suffix != ".safetensors":
        p = p.with_suffix(".safetensors")
    if "arch" not in meta or "input_shape" not in meta or "num_classes" not in meta:
        raise InputError("model metadata needs arch, input_shape and num_classes")
    p.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = p.with_suffix(".tmp")
    save_file(state, str(tmp))
    tmp.replace(p)
    full = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta}
    meta_path(p).write_text(json.dumps(full, indent=2, sort_keys=True, default=str))
    return p


def sniff_unsafe(path: Path) -> str | None:
    """Name the format when the file needs code execution to load (pickle, torch zip).

    A safetensors file (an 8-byte header length, then ``{``) is never one, whatever the first
    byte of its length happens to be (``(``, ``]``, ``}``, ``c`` and ``\\x80`` are also
    pickle opcodes)."""
    if _has_safetensors_header(path):
        return None
    with path.open("rb") as fh:
        head = fh.read(4)
    if head[:1] == b"\x80" or head[:1] in (b"(", b"]", b"}", b"c"):
        return "a pickle"
    if head == b"PK\x03\x04":
        return "a zip archive (a PyTorch checkpoint holds a pickle)"
    return None


def _has_safetensors_header(path: Path) -> bool:
    from advlab.serialization.formats import is_safetensors

    with path.open("rb") as fh:
        return is_safetensors(fh.read(16), path.stat().st_size)


def _looks_like_pickle(path: Path, limit: int = 1 << 16) -> bool:
    """Whether the file's start parses as pickle opcodes ending in STOP (never executed)."""
    import pickletools

    with path.open("rb") as fh:
        data = fh.read(limit)
    try:
        for op, _, _ in pickletools.genops(data):
            if op.name == "STOP":
                return True
    except Exception:  # noqa: BLE001 - any parse failure means "not a pickle"
        return False
    return False


def _converted_name(p: Path) -> Path:
    """Where ``advlab convert`` should write ``p`` (never ``p`` itself)."""
    out = p.with_suffix(".safetensors")
    return out if out != p else p.with_name(f"{p.stem}.converted.safetensors")


def check_safetensors(path: Path) -> dict[str, Any]:
    """The safetensors header of ``path`` after checking it against the file: header length,
    JSON, dtypes, shapes and data offsets (within the file, matching each tensor's size).
    Raises :class:`InputError` naming what is wrong."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise InputError(f"{path}: not a safetensors file ({size} bytes, too short)")
        n = int.from_bytes(head, "little")
        if n < 2 or n > min(size - 8, _MAX_HEADER):
            raise InputError(f"{path}: not a safetensors file (header length {n} invalid)")
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InputError(f"{path}: not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise InputError(f"{path}: not a safetensors file (header is not a JSON object)")
    data_len = size - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        _check_tensor_entry(path, excerpt(name), info, data_len)
    return header


_MAX_HEADER = 100_000_000
_MAX_INPUT_SIZE = 1 << 26
"""Values per input a model file may declare (64 Mi: far above images such as 3x1024x1024)."""
_DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
    "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip


def _check_tensor_entry(path: Path, name: str, info: Any, data_len: int) -> None:
    bad = f"{path}: tensor {name}:"
    if not isinstance(info, dict):
        raise InputError(f"{bad} entry is not an object")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in _DTYPE_BYTES:
        raise InputError(f"{bad} unknown dtype {excerpt(dtype)}")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**40 for d in shape
    ):
        raise InputError(f"{bad} invalid shape {excerpt(shape)}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
    ):
        raise InputError(f"{bad} invalid data_offsets {excerpt(offsets)}")
    count = 1
    for d in shape:
        count *= d
    start, end = offsets
    if not 0 <= start <= end <= data_len or end - start != count * _DTYPE_BYTES[dtype]:
        raise InputError(
            f"{bad} data_offsets {offsets} do not match its shape and dtype or lie outside "
            f"the file's {data_len} data bytes"
        )


def _read_meta(p: Path) -> dict[str, Any]:
    mp = meta_path(p)
    if not mp.is_file():
        raise InputError(f"{p}: metadata file {mp.name} is missing (architecture, bounds, classes)")
    try:
        meta = json.loads(mp.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{mp}: not UTF-8 text (byte {exc.start})") from None
    except ValueError as exc:
        raise InputError(f"{mp}: not valid JSON ({excerpt(str(exc), 80)})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise InputError(f"{mp}: not advlab model metadata (format={excerpt(got)})")
    for key in ("arch", "input_shape", "num_classes"):
        if key not in meta:
            raise InputError(f"{mp}: metadata lacks {key!r}")
    shape, classes = meta["input_shape"], meta["num_classes"]
    if not isinstance(meta["arch"], dict):
        raise InputError(f"{mp}: arch must be an object, got {excerpt(meta['arch'])}")
    if not (isinstance(shape, list) and shape and all(isinstance(d, int) and d > 0 for d in shape)):
        raise InputError(f"{mp}: input_shape must be a list of positive integers")
    if math.prod(shape) > _MAX_INPUT_SIZE:
        raise InputError(f"{mp}: input_shape {excerpt(shape)} exceeds {_MAX_INPUT_SIZE} values")
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 2:
        raise InputError(f"{mp}: num_classes must be an integer >= 2, got {excerpt(classes)}")
    b = meta.get("bounds", [0.0, 1.0])
    if not (
        isinstance(b, list)
        and len(b) == 2
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in b)
        and b[0] < b[1]
    ):
        raise InputError(f"{mp}: bounds must be [lower, upper] finite numbers, got {excerpt(b)}")
    _check_preprocess(mp, meta.get("preprocess"))
    return meta


def _finite_numbers(v: Any) -> bool:
    items = v if isinstance(v, list) else [v]
    return bool(items) and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in items
    )


def _check_preprocess(mp: Path, pre: Any) -> None:
    """``preprocess``: absent / null, or ``{mean, std}`` finite numbers (lists), std > 0."""
    if pre is None:
        return
    if not isinstance(pre, dict) or not {"mean", "std"} <= set(pre):
        raise InputError(f"{mp}: preprocess must be {{mean, std}}, got {excerpt(pre)}")
    mean, std = pre["mean"], pre["std"]
    if not (_finite_numbers(mean) and _finite_numbers(std)):
        raise InputError(f"{mp}: preprocess mean and std must be finite numbers or lists of them")
    if any(x <= 0 for x in (std if isinstance(std, list) else [std])):
        raise InputError(f"{mp}: preprocess std must be > 0")


def _build_checked(p: Path, meta: dict[str, Any], device: str | torch.device) -> nn.Module:
    try:
        model = build(meta["arch"])
    except AdvlabError as exc:
        raise InputError(f"{meta_path(p)}: {exc}") from None
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputError(
            f"{meta_path(p)}: arch {excerpt(meta['arch'], 80)} cannot be built ({exc})"
        ) from None
    try:
        state = load_file(str(p), device="cpu")  # the model is built on the CPU; moved last
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise InputError(f"{p}: unreadable safetensors ({type(exc).__name__})") from None
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1:2] or [str(exc)]
        raise InputError(
            f"{p}: weights do not match the architecture ({first[0].strip()[:200]})"
        ) from None
    if missing or unexpected:
        raise InputError(
            f"{p}: weights do not match the architecture (missing {excerpt(missing)}, "
            f"unexpected {excerpt(unexpected)})"
        )
    try:
        with torch.no_grad():
            out = model.eval()(torch.zeros(1, *meta["input_shape"]))  # still on the CPU
    except (RuntimeError, ValueError) as exc:
        why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InputError(
            f"{p}: the model does not accept the metadata's input_shape "
            f"{meta['input_shape']} ({why})"
        ) from None
    if out.ndim != 2 or out.shape[1] != meta["num_classes"]:
        raise InputError(
            f"{p}: the model gives {tuple(out.shape[1:])} outputs per input but the metadata "
            f"says {meta['num_classes']} classes"
        )
    return model


def load_bundle(path: str | Path, *, device: str | torch.device = "cpu") -> ModelBundle:
    """Load an advlab model (``.safetensors`` + ``.json``). Pickles are refused.

    Every way a file can be bad (truncated, empty, random bytes, lying offsets, a pickle,
    broken JSON metadata, an architecture or class count that does not fit the weights) is an
    :class:`InputError` or :class:`UnsafeFileError` with a one-line message."""
    p = Path(path)
    if p.is_dir():
        cands = sorted(p.glob("*.safetensors"))
        if len(cands) != 1:
            raise InputError(f"{p}: expected exactly one .safetensors file, found {len(cands)}")
        p = cands[0]
    if not p.is_file():
        raise InputError(f"model file not found: {p}")
    try:
        kind = sniff_unsafe(p)
        if kind is None and not _has_safetensors_header(p) and _looks_like_pickle(p):
            kind = "a pickle"
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if kind is not None:
        raise UnsafeFileError(
            f"{p} is {kind}; advlab never unpickles model files. Inspect it with "
            f"`advlab scan {p}` and, if you trust it, convert it with `advlab convert {p} "
            f"{_converted_name(p)}`"
        )
    try:
        check_safetensors(p)
        meta = _read_meta(p)
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    model = _build_checked(p, meta, device)
    return ModelBundle(model.to(device).eval(), meta, p)

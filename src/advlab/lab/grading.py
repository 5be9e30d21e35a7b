"""Grader helpers: decode a submission without running code, then check everything.

Decoders refuse a pickle by its bytes before any parser sees it (a pickle's ``PROTO`` opcode
``0x80``, a PyTorch zip checkpoint with a ``data.pkl``, a NumPy file holding objects), read
``.npy``/``.npz`` with ``allow_pickle=False`` and JSON with the standard library, and read
models from safetensors (tensors only) or ONNX (a protobuf graph run by onnxruntime; no
Python code). Checks name what was wrong and what was expected: shape, dtype, NaN/inf, value
range, Lp distance to the reference points, count, label range.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

from advlab.lab.base import Rejected

NORMS = ("linf", "l2", "l1")
_PICKLE_HINT = "a pickle (never loaded: pickles run code); submit .npy, .npz, JSON"


def refuse_pickle(data: bytes) -> None:
    """Raise :class:`Rejected` when ``data`` looks like a pickle or a pickled checkpoint."""
    if safetensors_like(data):
        return
    if data[:1] == b"\x80" or _parses_as_pickle(data):
        raise Rejected(f"the submission is {_PICKLE_HINT}")
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = z.namelist()
        except zipfile.BadZipFile:
            raise Rejected("the submission is a damaged zip archive") from None
        if any(n.endswith(".pkl") for n in names):
            raise Rejected(f"the submission is a PyTorch checkpoint, i.e. {_PICKLE_HINT}")


def _parses_as_pickle(data: bytes, limit: int = 1 << 16) -> bool:
    """Whether the bytes are pickle opcodes ending in STOP at the very last byte (read
    statically, never run); text that merely contains a '.' is not a pickle."""
    import pickletools

    body = data.rstrip(b"\r\n")
    if data[:6] == b"\x93NUMPY" or data[:4] == b"PK\x03\x04" or body[-1:] != b".":
        return False
    if len(body) > limit:
        return True  # a protocol-0 stream this long ending in STOP: refuse without parsing
    try:
        return [pos for op, _, pos in pickletools.genops(body) if op.name == "STOP"] == [
            len(body) - 1
        ]
    except Exception:  # any parse failure means "not a pickle"
        return False


def decode_arrays(data: bytes, *, names: tuple[str, ...] = ("x",)) -> dict[str, np.ndarray]:
    """Arrays from ``.npy`` (one array: ``names[0]``), ``.npz`` or a JSON object/list.

    Object arrays are refused (``allow_pickle=False``); a missing array is named.
    """
    refuse_pickle(data)
    out: dict[str, np.ndarray] = {}
    try:
        if data[:6] == b"\x93NUMPY":
            out[names[0]] = np.load(io.BytesIO(data), allow_pickle=False)
        elif data[:4] == b"PK\x03\x04":
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                out = {k: z[k] for k in z.files}
        else:
            obj = json.loads(data.decode("utf-8"))
            if isinstance(obj, dict):
                out = {k: np.asarray(v) for k, v in obj.items()}
            else:
                out[names[0]] = np.asarray(obj)
    except ValueError as exc:  # allow_pickle=False refusals, bad JSON, ragged lists
        if "pickle" in str(exc).lower():
            raise Rejected(f"the submission holds Python objects, i.e. {_PICKLE_HINT}") from None
        raise Rejected(
            f"could not read the submission as .npy, .npz or JSON arrays: {exc}"
        ) from None
    except (UnicodeDecodeError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise Rejected(f"could not read the submission as .npy, .npz or JSON: {exc}") from None
    missing = [n for n in names if n not in out]
    if missing:
        raise Rejected(f"missing array(s) {missing}; expected {list(names)}")
    return out


def check_numeric(a: np.ndarray, what: str, *, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A float64 copy of ``a`` after checking dtype (real numbers), shape and finiteness."""
    if a.dtype.kind not in "fiu" or a.dtype == np.bool_:
        raise Rejected(f"{what} has dtype {a.dtype}; expected real numbers (float32)")
    if shape is not None and tuple(a.shape) != tuple(shape):
        raise Rejected(f"{what} has shape {tuple(a.shape)}; expected {tuple(shape)}")
    out = a.astype(np.float64)
    if not np.isfinite(out).all():
        raise Rejected(f"{what} contains NaN or inf values")
    return out


def check_points(
    x: np.ndarray,
    *,
    shape: tuple[int, ...],
    bounds: tuple[float, float],
    reference: np.ndarray | None = None,
    eps: float | None = None,
    norm: str = "linf",
    atol: float = 1e-5,
) -> np.ndarray:
    """Check shape, dtype, NaN, value range and (with ``reference``) the Lp distance.

    Returns the points as float32. ``atol`` absorbs float32 rounding only.
    """
    xf = check_numeric(x, "the points", shape=shape)
    lo, hi = bounds
    below, above = float(lo - xf.min()), float(xf.max() - hi)
    if below > atol or above > atol:
        raise Rejected(
            f"values out of bounds: the data range is [{lo:g}, {hi:g}], the points go "
            f"{max(below, above):.4g} beyond it"
        )
    if reference is not None and eps is not None:
        d = lp_distances(xf - reference.astype(np.float64), norm)
        worst = int(d.argmax())
        if d[worst] > eps + atol:
            raise Rejected(
                f"perturbation over budget: point {worst} is at {norm} distance {d[worst]:.4g} "
                f"from its original; at most eps={eps:g}"
            )
    return xf.astype(np.float32)


def lp_distances(delta: np.ndarray, norm: str) -> np.ndarray:
    """Per-row Lp norms of ``delta``."""
    flat = delta.reshape(len(delta), -1)
    if norm == "linf":
        return np.abs(flat).max(1) if flat.shape[1] else np.zeros(len(flat))
    if norm == "l2":
        return np.sqrt((flat**2).sum(1))
    if norm == "l1":
        return np.abs(flat).sum(1)
    raise ValueError(f"unknown norm {norm!r}; expected one of {NORMS}")


def check_labels(y: np.ndarray, *, n: int, num_classes: int) -> np.ndarray:
    """Integer labels in ``0..num_classes-1``, ``n`` of them."""
    if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0)):
        raise Rejected(f"labels have dtype {y.dtype}; expected integers")
    if y.shape != (n,):
        raise Rejected(f"labels have shape {y.shape}; expected ({n},)")
    yi = y.astype(np.int64)
    if len(yi) and (yi.min() < 0 or yi.max() >= num_classes):
        raise Rejected(f"labels out of range: expected 0..{num_classes - 1}")
    return yi


# ---------------------------------------------------------------------- models
def safetensors_header(data: bytes) -> dict[str, Any]:
    """The JSON header of a safetensors file (``__metadata__`` included)."""
    if len(data) < 8:
        raise Rejected("not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8 or n > 1 << 24:
        raise Rejected("not a safetensors file (bad header length)")
    try:
        head = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Rejected("not a safetensors file (the header is not JSON)") from None
    if not isinstance(head, dict):
        raise Rejected("not a safetensors file (the header is not an object)")
    return head


Predictor = Callable[[np.ndarray], np.ndarray]
"""A decoded model: float32 inputs ``(N, *shape)`` -> scores ``(N, classes)``."""


def decode_model(data: bytes, *, input_shape: tuple[int, ...], num_classes: int) -> Predictor:
    """A model from safetensors or ONNX bytes, checked on a probe batch; never a pickle.

    safetensors: either ``weight`` ``(classes, features)`` and ``bias`` ``(classes,)`` (a
    linear model), or the state dict of an advlab architecture named by the JSON in the
    ``__metadata__`` entry ``arch`` (see :func:`advlab.models.arch.build`).
    """
    refuse_pickle(data)
    if data[:8] and safetensors_like(data):
        fn = _safetensors_model(data)
    elif data[:2] == b"\x08\x03" or data[:1] == b"\x08":
        fn = _onnx_model(data)
    else:
        raise Rejected("the model is neither safetensors nor ONNX")
    probe = np.zeros((2, *input_shape), dtype=np.float32)
    try:
        out = np.asarray(fn(probe))
    except Rejected:
        raise
    except Exception as exc:  # a submitted model that does not run is the submitter's error
        raise Rejected(
            f"the model does not run on inputs of shape (N, *{input_shape}): {exc}"
        ) from None
    if out.shape != (2, num_classes):
        raise Rejected(f"the model answers shape {out.shape[1:]}; expected ({num_classes},)")
    return fn


def safetensors_like(data: bytes) -> bool:
    (n,) = struct.unpack("<Q", data[:8]) if len(data) >= 8 else (0,)
    return 2 <= n <= len(data) - 8 and data[8:9] == b"{"


def _safetensors_model(data: bytes) -> Predictor:
    import torch
    from safetensors.torch import load as st_load

    meta = safetensors_header(data).get("__metadata__") or {}
    try:
        tensors = st_load(data)
    except Exception as exc:
        raise Rejected(f"unreadable safetensors file: {exc}") from None
    if "arch" not in meta:
        if set(tensors) != {"weight", "bias"}:
            raise Rejected(
                "a safetensors model needs tensors 'weight' and 'bias' (a linear model) or an "
                f"'arch' entry in __metadata__; found {sorted(tensors)}"
            )
        w, b = tensors["weight"].double(), tensors["bias"].double()
        if w.dim() != 2 or b.shape != (w.shape[0],):
            raise Rejected(f"weight {tuple(w.shape)} and bias {tuple(b.shape)} do not match")

        def linear(x: np.ndarray) -> np.ndarray:
            xt = torch.as_tensor(x, dtype=torch.float64).reshape(len(x), -1)
            return (xt @ w.T + b).numpy()

        return linear
    from advlab.errors import ConfigError
    from advlab.models.arch import build

    try:
        spec = json.loads(meta["arch"])
        model = build(spec)
        model.load_state_dict(tensors, strict=True)
    except (ValueError, TypeError, KeyError, RuntimeError, ConfigError) as exc:
        raise Rejected(f"the arch and tensors do not build a model: {exc}") from None
    model.eval()

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.as_tensor(x, dtype=torch.float32)).double().numpy()  # type: ignore[no-any-return]

    return run


def _onnx_model(data: bytes) -> Predictor:
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - the serve/onnx extras ship it
        raise Rejected("ONNX submissions need onnxruntime: pip install 'advlab[onnx]'") from exc
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise Rejected(f"not a valid ONNX model: {str(exc)[:300]}") from None
    name = sess.get_inputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(sess.run(None, {name: x.astype(np.float32)})[0], dtype=np.float64)

    return run


def agreement(a: Predictor | np.ndarray, b: Predictor, x: np.ndarray) -> float:
    """Share of ``x`` where the two models (or given labels and a model) pick the same class."""
    la = a if isinstance(a, np.ndarray) else a(x).argmax(1)
    return float(np.mean(la == b(x).argmax(1)))

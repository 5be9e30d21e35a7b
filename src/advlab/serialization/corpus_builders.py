"""Byte-level builders for the scanner corpus: pickle opcodes, archives, torch, Keras, npy.

Shared by :mod:`advlab.serialization.corpus`, the tests and the benchmarks. Nothing built here
is ever loaded; payload-bearing samples are assembled in :mod:`advlab.serialization.corpus`.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

from advlab.serialization.bombs import deflate_zeros
from advlab.serialization.craft import inject_pickle

log = logging.getLogger(__name__)

LAMBDA_CODE = "4wEAAAAAAAAAAAAAAAEAAAADAAAA8wQAAACXAHwAUwApAU6pAKkB2gF4cwEAAAAg"
"""base64 of marshalled bytecode in a Keras Lambda config (never decoded here)."""


# ----------------------------------------------------------------- opcode helpers
P2 = b"\x80\x02"
P4 = b"\x80\x04"


def g(module: str, name: str) -> bytes:
    """GLOBAL opcode."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def u(text: str) -> bytes:
    """BINUNICODE literal."""
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def su(text: str) -> bytes:
    """SHORT_BINUNICODE literal (protocol 4)."""
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def call(func: bytes, *args: bytes) -> bytes:
    """``func(*args)`` via MARK ... TUPLE REDUCE."""
    return func + b"(" + b"".join(args) + b"tR"


def lst(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"l"


def _stored_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:  # type: ignore[call-overload]
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _patch_zip_flags(data: bytes, *, encrypt: bool = False, crc: bool = False) -> bytes:
    """Set the 'encrypted' bit and/or corrupt the CRC in local and central headers."""
    b = bytearray(data)
    for sig, flag_off, crc_off in ((b"PK\x03\x04", 6, 14), (b"PK\x01\x02", 8, 16)):
        pos = b.find(sig)
        while pos >= 0:
            if encrypt:
                b[pos + flag_off] |= 0x01
            if crc:
                b[pos + crc_off : pos + crc_off + 4] = b"\xde\xad\xbe\xef"
            pos = b.find(sig, pos + 4)
    return bytes(b)


class _Reduce:
    """Pickles as ``func(*args)`` without ever calling it."""

    def __init__(self, func: Any, args: tuple[Any, ...]) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


# ----------------------------------------------------------------- torch helpers
def _torch_model() -> Any:
    import torch

    try:
        from advlab.models.arch import MLP

        return MLP(16, 4, hidden=(32, 32))
    except Exception:  # the models package is optional for the corpus
        return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))


def _torch_cnn() -> Any:
    import torch

    try:
        from advlab.models.arch import SmallCNN

        return SmallCNN(width=8, hidden=16)
    except Exception:
        return torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.BatchNorm2d(8))


def torch_bytes(obj: Any, **kw: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    return buf.getvalue()


def _evil_data_pkl(canary: Path) -> bytes:
    """A torch checkpoint's data.pkl with an exec payload (raw opcodes)."""
    import torch

    z = zipfile.ZipFile(io.BytesIO(torch_bytes({"w": torch.ones(2)})))
    name = next(n for n in z.namelist() if n.endswith("data.pkl"))
    return inject_pickle(z.read(name), style="exec", marker_path=canary)


def _evil_torch_zip(canary: Path) -> bytes:
    import torch

    raw = torch_bytes({"w": torch.ones(2)})
    zin = zipfile.ZipFile(io.BytesIO(raw))
    members = {}
    for n in zin.namelist():
        data = zin.read(n)
        if n.endswith("data.pkl"):
            data = inject_pickle(data, style="exec", marker_path=canary)
        members[n] = data
    return _stored_zip(members)


def _make_7z(members: dict[str, bytes]) -> bytes:
    import py7zr

    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(data, name)
    return buf.getvalue()


def _legacy_checkpoint() -> bytes:
    import torch

    return torch_bytes({"w": torch.ones(3)}, _use_new_zipfile_serialization=False)


def _keras_config(lambda_layer: bool = False, gadget: bool = False) -> dict[str, Any]:
    layers: list[dict[str, Any]] = [
        {
            "module": "keras.layers",
            "class_name": "InputLayer",
            "config": {"batch_shape": [None, 4], "name": "input"},
            "registered_name": None,
        },
        {
            "module": "keras.layers",
            "class_name": "Dense",
            "config": {"units": 2, "activation": "relu", "name": "dense"},
            "registered_name": None,
        },
    ]
    if lambda_layer:
        layers.append(
            {
                "module": "keras.layers",
                "class_name": "Lambda",
                "config": {
                    "name": "lambda",
                    "function": {
                        "class_name": "__lambda__",
                        "config": {"code": LAMBDA_CODE},
                    },
                },
                "registered_name": None,
            }
        )
    if gadget:
        layers.append(
            {
                "module": "keras.layers",
                "class_name": "Activation",
                "config": {
                    "name": "act",
                    "activation": {
                        "module": "os",
                        "class_name": "system",
                        "config": "touch /tmp/x",
                        "registered_name": "system",
                    },
                },
                "registered_name": None,
            }
        )
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "seq", "layers": layers},
        "registered_name": None,
    }


def _keras_zip(lambda_layer: bool = False, gadget: bool = False) -> bytes:
    return _stored_zip(
        {
            "metadata.json": json.dumps({"keras_version": "3.6.0"}).encode(),
            "config.json": json.dumps(_keras_config(lambda_layer, gadget)).encode(),
            "model.weights.h5": _h5_bytes({}),
        }
    )


def _h5_bytes(attrs: dict[str, str]) -> bytes:
    import h5py
    import numpy as np

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for k, v in attrs.items():
            f.attrs[k] = v
        f.create_dataset("dense/kernel", data=np.zeros((4, 2), dtype="float32"))
    return buf.getvalue()


def _keras_h5(lambda_layer: bool = False) -> bytes:
    cfg = _keras_config(lambda_layer)
    return _h5_bytes({"model_config": json.dumps(cfg), "keras_version": "2.15.0"})


def _joblib_payloads(canary: Path) -> list[tuple[str, bytes]]:
    import joblib
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]], [0, 1, 1, 0])
    buf = io.BytesIO()
    joblib.dump(clf, buf)
    raw = buf.getvalue()
    evil = inject_pickle(raw, style="exec", marker_path=canary)
    return [("logreg_payload.joblib", evil), ("logreg_payload_zlib.joblib", zlib.compress(evil))]


def _npy_payloads(cmd: str) -> list[tuple[str, bytes]]:
    import numpy as np

    arr = np.empty(2, dtype=object)
    arr[0] = _Reduce(os.system, (cmd,))
    arr[1] = 1
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    npy = buf.getvalue()
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("weights.npy", npy)
    return [("object_array.npy", npy), ("object_array.npz", zbuf.getvalue())]


def _safetensors(entries: dict[str, tuple[str, list[int], list[int]]], data_len: int) -> bytes:
    header = {k: {"dtype": d, "shape": s, "data_offsets": o} for k, (d, s, o) in entries.items()}
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"\0" * data_len


def _deep_gzip(data: bytes, levels: int) -> bytes:
    for _ in range(levels):
        data = gzip.compress(data, mtime=0)
    return data


def _zlib_bomb(mib: int) -> bytes:
    """A zlib stream inflating to ``mib`` MiB of zeros, built without compressing that much."""
    return b"\x78\xda" + deflate_zeros(mib) + b"\0\0\0\0"

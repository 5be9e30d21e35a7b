"""Safe model loading: ``advlab.load_model(path)`` and ``advlab convert``.

Defence in depth, never a fallback to unsafe loading:

1. the file is scanned statically (:mod:`advlab.serialization.scan`); any finding or scan error
   refuses the load;
2. safetensors files are read with :func:`safetensors.torch.load_file` (no code possible);
3. PyTorch checkpoints (zip or legacy) are read by torch with ``weights_only=True``, i.e. with
   torch's restricted unpickler, plus an explicit caller allowlist through
   :func:`torch.serialization.safe_globals`.

Neither the stdlib unpickler nor an unrestricted torch load is ever used. See the PyTorch
security notes on ``weights_only`` (torch >= 2.6 default) and Hugging Face's safetensors audit
(Trail of Bits, 2023).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advlab.errors import InputError
from advlab.serialization.findings import FileReport, Severity
from advlab.serialization.formats import Kind, sniff
from advlab.serialization.policy import Policy, rank
from advlab.serialization.scan import ScanOptions, scan_file

log = logging.getLogger(__name__)

STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")


class UnsafeModelError(Exception):
    """The file needs code to load (or could not be verified); it was not loaded."""

    def __init__(
        self, path: str | os.PathLike[str], reason: str, *, suggest_convert: bool = True
    ) -> None:
        hint = (
            "use a .safetensors file, or convert a weights-only checkpoint with "
            "`advlab convert in.pt out.safetensors`"
            if suggest_convert
            else "advlab convert only converts files it can load without running code"
        )
        super().__init__(
            f"refusing to load {os.fspath(path)}: {reason}. Only weights are loaded safely: "
            f"{hint} (a pickled nn.Module must be re-saved as model.state_dict() in a trusted "
            "environment)."
        )
        self.reason = reason


def qualified_name(obj: Any) -> str:
    """``module.qualname`` of a class or function, as it appears in a pickle."""
    return f"{obj.__module__}.{obj.__qualname__}"


def _describe(report: FileReport) -> str:
    parts = [f"{f.severity.label}: {f.message} [{f.location}]" for f in report.real_findings[:5]]
    more = len(report.real_findings) - 5
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _describe_value(v: Any) -> str:
    """A short description of a dropped checkpoint entry (never its content)."""
    import torch

    if isinstance(v, torch.Tensor):
        return f"tensor {tuple(v.shape)}"
    if isinstance(v, Mapping):
        keys = sorted(map(str, v))
        if {"state", "param_groups"} <= set(keys):
            return "optimizer state"
        return f"dict with keys {keys[:6]}" + (" ..." if len(keys) > 6 else "")
    if isinstance(v, (list, tuple)):
        return f"{type(v).__name__} of {len(v)}"
    return type(v).__name__


def _split_checkpoint(path: Path, obj: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The state dict in ``obj`` and what else the checkpoint held (key -> description)."""
    import torch

    def is_sd(o: Any) -> bool:
        return isinstance(o, Mapping) and all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in o.items()
        )

    if is_sd(obj):
        return dict(obj), {}
    if isinstance(obj, Mapping):
        for key in STATE_DICT_KEYS:
            if is_sd(obj.get(key)):
                dropped = {str(k): _describe_value(v) for k, v in obj.items() if k != key}
                return dict(obj[key]), dropped
    raise ValueError(
        f"{path}: loaded safely but it is not a state dict (str -> Tensor); top-level type "
        f"{type(obj).__name__}"
        + (f" with keys {sorted(map(str, obj))[:8]}" if isinstance(obj, Mapping) else "")
    )


def resolve_allowed(name: str) -> Any:
    """The class or function ``module.Name`` names, for an allowlist given as text (the CLI's
    ``--allow``). Its module is imported, as torch's unpickler would import it; names the
    scanner ranks high or critical (``os.system``, ``builtins.eval``, ...) are refused."""
    import importlib

    module, _, attr = name.rpartition(".")
    if not module or not attr.isidentifier():
        raise InputError(f"--allow expects module.Name (e.g. mypkg.layers.MyLayer), got {name!r}")
    if rank(module, attr) >= Severity.HIGH:
        raise InputError(f"refusing to allow {name}: it can run code when unpickled")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"cannot allow {name}: {_first_line(exc)}") from None
    if qualified_name(obj) != name:
        raise InputError(f"cannot allow {name}: it is an alias of {qualified_name(obj)}")
    return obj


def load_model(
    path: str | os.PathLike[str],
    *,
    allowlist: Iterable[Any] = (),
    map_location: str = "cpu",
) -> dict[str, Any]:
    """Load a state dict (``dict[str, torch.Tensor]``) from safetensors or a PyTorch checkpoint.

    ``allowlist``: extra classes/functions the checkpoint may reference (for example a custom
    tensor subclass), as objects or ``"module.Name"`` strings (:func:`resolve_allowed`); they
    are added to both the static scan and torch's weights-only unpickler. For a training
    checkpoint (``{"model": state_dict, "optimizer": ...}``) the state dict under
    ``state_dict`` / ``model_state_dict`` / ``model`` is returned (:func:`convert_checkpoint`
    also says what else the file held).

    Raises :class:`UnsafeModelError` when the file would need code to load, and ``ValueError``
    when it is safe but not a state dict.
    """
    return _load(Path(path), allowlist, map_location)[0]


def _load(
    p: Path, allowlist: Iterable[Any], map_location: str
) -> tuple[dict[str, Any], dict[str, str]]:
    extra = [resolve_allowed(o) if isinstance(o, str) else o for o in allowlist]
    names = frozenset(qualified_name(o) for o in extra)
    report = scan_file(p, ScanOptions(policy=Policy(extra_allow=names)))
    if report.errors:
        raise UnsafeModelError(p, "the file could not be fully verified: " + report.errors[0])
    if report.real_findings:
        raise UnsafeModelError(p, "static scan found " + _describe(report))
    with open(p, "rb") as fh:
        head = fh.read(4096)
    kind = sniff(head, p.stat().st_size)
    import torch

    if kind is Kind.SAFETENSORS:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(p), device=map_location)), {}
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise InputError(f"{p}: not a readable safetensors file ({_first_line(exc)})") from None
    if kind is Kind.ZIP and "pytorch-zip" in report.formats or kind is Kind.PICKLE:
        import pickle

        try:
            with torch.serialization.safe_globals(extra):
                obj = torch.load(p, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as exc:
            raise UnsafeModelError(p, f"torch's weights-only unpickler refused it: {exc}") from exc
        except Exception as exc:  # a corrupt file: torch raises many types; one line instead
            raise InputError(
                f"{p}: not a readable PyTorch checkpoint ({_first_line(exc)})"
            ) from None
        return _split_checkpoint(p, obj)
    raise UnsafeModelError(p, f"unsupported format {kind.value!r} for load_model")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


@dataclass(frozen=True)
class Conversion:
    """What :func:`convert_checkpoint` wrote and what it left out."""

    path: Path
    tensors: int
    dropped: dict[str, str] = field(default_factory=dict)
    """Checkpoint entries beside the state dict (optimizer state, epoch, hyper-parameters...),
    key -> a short description; safetensors holds tensors only."""


def convert(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, allowlist: Iterable[Any] = ()
) -> Path:
    """Convert a weights-only checkpoint to safetensors, loading it with :func:`load_model`."""
    return convert_checkpoint(src, dst, allowlist=allowlist).path


def convert_checkpoint(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, allowlist: Iterable[Any] = ()
) -> Conversion:
    """:func:`convert`, returning the tensors written and the entries dropped."""
    import torch
    from safetensors.torch import save_file

    try:
        sd, dropped = _load(Path(src), allowlist, "cpu")
    except UnsafeModelError as exc:  # do not tell the user to run the command they just ran
        raise UnsafeModelError(src, exc.reason, suggest_convert=False) from None
    seen: set[tuple[int, int]] = set()
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        t = v.detach()
        if t.is_sparse or t.layout != torch.strided:
            t = t.to_dense()
        ident = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        if ident in seen or not t.is_contiguous():
            t = t.clone().contiguous()  # safetensors refuses shared / strided storage
        seen.add(ident)
        out[k] = t
    dst_p = Path(dst)
    save_file(out, str(dst_p), metadata={"converted_by": "advlab", "source": Path(src).name})
    for k, what in dropped.items():
        log.info("convert: dropped %s (%s): safetensors holds tensors only", k, what)
    return Conversion(dst_p, len(out), dropped)

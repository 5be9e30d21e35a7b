"""Saving and loading models as safetensors + JSON metadata (never pickle)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from advlab.errors import InputError, UnsafeFileError
from advlab.models.arch import build
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

        pre = self.meta.get("preprocess")
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
    """Name the format when the file needs code execution to load (pickle, torch zip)."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if head[:1] == b"\x80" or head[:1] in (b"(", b"]", b"}", b"c"):
        return "a pickle"
    if head == b"PK\x03\x04":
        return "a zip archive (a PyTorch checkpoint holds a pickle)"
    return None


def load_bundle(path: str | Path, *, device: str | torch.device = "cpu") -> ModelBundle:
    """Load an advlab model (``.safetensors`` + ``.json``). Pickles are refused."""
    p = Path(path)
    if p.is_dir():
        cands = sorted(p.glob("*.safetensors"))
        if len(cands) != 1:
            raise InputError(f"{p}: expected exactly one .safetensors file, found {len(cands)}")
        p = cands[0]
    if not p.exists():
        raise InputError(f"model file not found: {p}")
    kind = sniff_unsafe(p)
    if kind is not None:
        raise UnsafeFileError(
            f"{p} is {kind}; advlab never unpickles model files. Inspect it with "
            f"`advlab scan {p}` and, if you trust it, convert it with `advlab convert {p} "
            f"{p.with_suffix('.safetensors')}`"
        )
    mp = meta_path(p)
    if not mp.exists():
        raise InputError(f"{p}: metadata file {mp.name} is missing (architecture, bounds, classes)")
    meta = json.loads(mp.read_text())
    if meta.get("format") != FORMAT:
        raise InputError(f"{mp}: not advlab model metadata (format={meta.get('format')!r})")
    model = build(meta["arch"])
    state = load_file(str(p), device=str(device))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise InputError(
            f"{p}: weights do not match the architecture (missing {missing}, unexpected {unexpected})"
        )
    return ModelBundle(model.to(device).eval(), meta, p)

"""One entry for every model file advlab can attack: ``open_model_file(path)``.

The kind is recognised from the path, never by loading it:

=================  ==========================================================
``model``          an advlab model (``.safetensors`` + its ``.json`` metadata)
``onnx``           an ONNX graph (``.onnx``; black box through onnxruntime)
``keras``          a Keras 3 archive (``.keras``; white box on the torch backend)
``huggingface``    a folder with ``config.json`` and safetensors weights
=================  ==========================================================

Each loader keeps its own safety rules (no pickles, no ``trust_remote_code``, no Keras
``Lambda`` layers). Pickled checkpoints are refused with a pointer to ``advlab scan`` and
``advlab convert``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from advlab.errors import ConfigError, InputError

KINDS = ("model", "onnx", "keras", "huggingface")
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".joblib")


def model_kind(path: str | os.PathLike[str]) -> str:
    """``model`` | ``onnx`` | ``keras`` | ``huggingface`` for ``path`` (InputError otherwise)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found")
    if p.is_dir():
        if (p / "config.json").is_file():
            return "huggingface"
        if len(list(p.glob("*.safetensors"))) == 1:
            return "model"
        raise InputError(f"{p}: a folder with neither config.json nor one .safetensors model")
    suffix = p.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix == ".keras":
        return "keras"
    if suffix == ".safetensors":
        return "model"
    if suffix in PICKLE_SUFFIXES:
        raise InputError(
            f"{p} is a pickle-based checkpoint and advlab never unpickles: check it with "
            "`advlab scan` and convert a weights-only checkpoint with `advlab convert`"
        )
    raise InputError(
        f"{p}: unknown model file type {suffix or '(no suffix)'}; advlab attacks advlab "
        ".safetensors models, .onnx, .keras and Hugging Face folders"
    )


def open_model_file(
    path: str | os.PathLike[str],
    *,
    kind: str | None = None,
    bounds: Any = None,
    device: str = "auto",
    **kwargs: Any,
) -> Any:
    """A :class:`~advlab.targets.Target` for the model at ``path``.

    ``bounds`` defaults to the advlab model's recorded bounds, else ``(0, 1)``; other keyword
    arguments go to the kind's target class (``output``, ``query_budget``, ...).
    """
    kind = kind or model_kind(path)
    if kind not in KINDS:
        raise ConfigError(f"unknown model kind {kind!r}; valid: {', '.join(KINDS)}")
    if kind == "model":
        from advlab.models import load_bundle

        bundle = load_bundle(Path(path))
        target = bundle.target(device=device, **kwargs)
        if bounds is not None:
            target.set_bounds(bounds)
        return target
    b = (0.0, 1.0) if bounds is None else bounds
    if kind == "onnx":
        try:
            from advlab.targets.onnx import OnnxClassifier
        except ImportError as exc:
            msg = f"ONNX models need onnxruntime: pip install 'advlab[onnx]' ({exc})"
            raise ConfigError(msg) from exc
        return OnnxClassifier(os.fspath(path), bounds=b, device=device, **kwargs)
    if kind == "keras":
        from advlab.targets.keras import load_keras_target

        return load_keras_target(path, b, device=device, **kwargs)
    from advlab.targets.huggingface import load_hf_image_classifier

    return load_hf_image_classifier(path, b, device=device, **kwargs)

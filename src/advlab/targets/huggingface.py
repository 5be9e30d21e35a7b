"""Hugging Face models from a local directory, white-box, without running the directory's code.

:func:`check_hf_directory` is the gate every Hugging Face loader in advlab goes through:

* weights must be ``*.safetensors`` (``pytorch_model.bin`` and other pickles are refused with
  a pointer to ``advlab scan`` / ``advlab convert``);
* a ``config.json`` with ``auto_map`` (a model class defined by Python files in the
  directory, which transformers would import under ``trust_remote_code=True``) is refused;
* loading passes ``local_files_only=True`` (nothing is downloaded), ``use_safetensors=True``
  and ``trust_remote_code=False``.

:func:`load_hf_image_classifier` wraps an ``AutoModelForImageClassification`` as a
:class:`~advlab.targets.torch.TorchClassifier` taking ``(C, H, W)`` pixels in [0, 1]; the
normalisation of ``preprocessor_config.json`` (``image_mean`` / ``image_std``, read as JSON)
runs inside the target so gradients flow through it. Resizing is not: inputs must already
have the model's ``image_size``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from advlab.errors import ConfigError, InputError
from advlab.targets.torch import TorchClassifier

PICKLE_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")


def check_hf_directory(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The directory's ``config.json`` after the safety checks above."""
    root = Path(path)
    if not root.is_dir() or not (root / "config.json").is_file():
        raise InputError(f"{root} is not a Hugging Face model directory (no config.json)")
    try:
        config = json.loads((root / "config.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{root / 'config.json'} is not JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise InputError(f"{root / 'config.json'} is not a JSON object")
    if "auto_map" in config:
        raise InputError(
            f"{root}: config.json maps the model to Python files in the directory (auto_map); "
            "advlab never loads with trust_remote_code (inspect them with `advlab scan`)"
        )
    if not any(root.glob("*.safetensors")):
        pickles = sorted(p.name for pattern in PICKLE_WEIGHTS for p in root.glob(pattern))
        hint = (
            f" (found {', '.join(pickles)}: pickled weights; scan them with `advlab scan` and "
            "convert a weights-only checkpoint with `advlab convert`)"
            if pickles
            else ""
        )
        raise InputError(f"{root}: no .safetensors weights{hint}")
    return config  # type: ignore[no-any-return]


def hf_load_options() -> dict[str, Any]:
    """The keyword arguments every ``from_pretrained`` call in advlab passes."""
    return {"local_files_only": True, "use_safetensors": True, "trust_remote_code": False}


def model_logits(output: Any) -> Any:
    """The ``logits`` of a transformers ``ModelOutput`` (top level: picklable)."""
    return output.logits


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise ConfigError(
            f"Hugging Face targets need transformers: pip install 'advlab[hf]' ({exc})"
        ) from exc
    return transformers


def load_hf_image_classifier(
    path: str | os.PathLike[str], bounds: Any = (0.0, 1.0), **kwargs: Any
) -> TorchClassifier:
    """An image classifier directory as a white-box target on ``(C, H, W)`` inputs."""
    config = check_hf_directory(path)
    transformers = _transformers()
    try:
        model = transformers.AutoModelForImageClassification.from_pretrained(
            os.fspath(path), **hf_load_options()
        )
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{os.fspath(path)}: transformers could not load it ({exc})") from exc
    size = config.get("image_size", 224)
    size = int(size[0] if isinstance(size, (list, tuple)) else size)
    channels = int(config.get("num_channels", 3))
    pre = Path(path) / "preprocessor_config.json"
    if pre.is_file() and "preprocess" not in kwargs:
        spec = json.loads(pre.read_text())
        if spec.get("do_normalize", True) and "image_mean" in spec and "image_std" in spec:
            shape = (channels, 1, 1)
            mean = [float(v) for v in spec["image_mean"]]
            std = [float(v) for v in spec["image_std"]]
            import torch

            kwargs["preprocess"] = (
                torch.tensor(mean).reshape(shape),
                torch.tensor(std).reshape(shape),
            )
    kwargs.setdefault("extract", model_logits)
    return TorchClassifier(model, bounds, input_shape=(channels, size, size), **kwargs)

"""Keras 3 models as white-box targets (the torch backend: a Keras model is a ``nn.Module``).

``load_keras_target(path)`` reads a ``.keras`` file -- a zip of ``config.json``, weights in
HDF5 and metadata -- in two steps:

1. the archive's ``config.json`` is read as JSON (no Keras code runs) and refused when it
   holds a ``Lambda`` layer (serialised Python bytecode) or a layer class that is not a
   built-in Keras layer, with a pointer to ``advlab scan``;
2. ``keras.saving.load_model(path, safe_mode=True)`` rebuilds the model; ``safe_mode``
   refuses lambda deserialisation on its own as a second line.

On the torch backend (``KERAS_BACKEND=torch``, which advlab sets when Keras is not imported
yet) the model's call is torch autograd all the way through, so it is wrapped in
:class:`~advlab.targets.torch.TorchClassifier`. On the TensorFlow backend (Keras imported
with ``KERAS_BACKEND=tensorflow`` and ``tensorflow-cpu`` installed) it is wrapped in
:class:`~advlab.targets.keras_tf.KerasTFClassifier`, white box through ``tf.GradientTape``. Image models in Keras' default
``channels_last`` layout (``(H, W, C)`` inputs) are presented to attacks in advlab's
``(C, H, W)`` layout; the permutation happens inside the target.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from advlab.errors import ConfigError, InputError
from advlab.targets.torch import TorchClassifier


def _import_keras() -> Any:
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError as exc:
        raise ConfigError(f"Keras targets need keras: pip install 'advlab[keras]' ({exc})") from exc
    backend = keras.backend.backend()
    if backend not in ("torch", "tensorflow"):
        raise ConfigError(
            f"Keras is running on the {backend!r} backend; advlab attacks Keras models on the "
            "torch or tensorflow backend: set KERAS_BACKEND before Keras is first imported"
        )
    return keras


def _layers(config: Any) -> list[dict[str, Any]]:
    """Every serialised layer dict in a Keras config tree."""
    found: list[dict[str, Any]] = []
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "class_name" in node and "config" in node:
                found.append(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def check_keras_archive(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The archive's ``config.json``, refused when it names code that would run at load."""
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as zf:
            raw = zf.read("config.json")
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise InputError(f"{p} is not a .keras archive with a config.json ({exc})") from exc
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: config.json is not JSON ({exc})") from exc
    for layer in _layers(config):
        cls, module = layer.get("class_name"), layer.get("module")
        if cls in ("Lambda", "TFOpLambda"):
            raise InputError(
                f"{p}: layer {cls!r} runs Python code when the model loads; advlab does not "
                "load it (inspect the file with `advlab scan`)"
            )
        if module is not None and not str(module).startswith("keras"):
            raise InputError(
                f"{p}: layer {cls!r} comes from module {module!r}, not Keras; advlab does not "
                "import it (inspect the file with `advlab scan`)"
            )
    return config  # type: ignore[no-any-return]


class _ChannelsFirst(nn.Module):
    """Presents a channels-last Keras image model with ``(N, C, H, W)`` inputs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.keras_model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.keras_model(x.permute(0, 2, 3, 1))  # type: ignore[no-any-return]


def _channels_last_image(shape: tuple[int, ...]) -> bool:
    return len(shape) == 3 and shape[-1] in (1, 3, 4) and shape[0] == shape[1]


def keras_target(model: Any, bounds: Any = (0.0, 1.0), **kwargs: Any) -> Any:
    """Wrap a Keras 3 model as a white-box target (torch or TensorFlow backend)."""
    keras = _import_keras()
    shape = tuple(int(s) for s in model.input_shape[1:])
    last = model.layers[-1] if model.layers else None
    outputs = last.get_config().get("activation") if last is not None else None
    kwargs.setdefault("output", "probs" if outputs == "softmax" else "logits")
    if keras.backend.backend() == "tensorflow":
        from advlab.targets.keras_tf import KerasTFClassifier

        kwargs.pop("memory_format", None)
        return KerasTFClassifier(
            model, bounds, channels_first=_channels_last_image(shape), **kwargs
        )
    if not isinstance(model, nn.Module):
        raise ConfigError("the Keras model is not a torch module on the torch backend")
    module: nn.Module = model
    if _channels_last_image(shape):
        module = _ChannelsFirst(model)
        shape = (shape[2], shape[0], shape[1])
    kwargs.setdefault("memory_format", "preserve")
    return TorchClassifier(module, bounds, input_shape=shape, **kwargs)


def load_keras_target(path: str | os.PathLike[str], bounds: Any = (0.0, 1.0), **kwargs: Any) -> Any:
    """A ``.keras`` file as a white-box target (checked, then loaded with ``safe_mode``)."""
    check_keras_archive(path)
    keras = _import_keras()
    try:
        model = keras.saving.load_model(os.fspath(path), safe_mode=True, compile=False)
    except (ValueError, TypeError, OSError) as exc:
        raise InputError(f"{os.fspath(path)}: Keras could not load the model ({exc})") from exc
    return keras_target(model, bounds, **kwargs)

"""Targets shared by several challenges: tiny models trained in-process on embedded data and
cached on disk (:func:`advlab.models.reference_model`), so a server starts in seconds."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from advlab.data import Dataset, load_dataset
from advlab.models import ModelBundle, TrainConfig, reference_model


def digits() -> Dataset:
    """The embedded 8x8 digits, the split every digits challenge uses."""
    return load_dataset("digits", seed=0)


def digits_cnn(seed: int = 0, epochs: int = 8) -> ModelBundle:
    """A small digits CNN (cached by its recipe)."""
    return reference_model("digits", train=TrainConfig(epochs=epochs, seed=seed))


def bundle_files(bundle: ModelBundle, stem: str = "model") -> dict[str, bytes]:
    """A bundle as downloadable files: ``stem.safetensors`` and its ``stem.json`` metadata
    (load them with :func:`advlab.models.load_bundle`)."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in bundle.model.state_dict().items()}
    meta = {"format": "advlab-model", "format_version": 1, **bundle.meta}
    return {
        f"{stem}.safetensors": save(state),
        f"{stem}.json": json.dumps(meta, indent=2, sort_keys=True, default=str).encode(),
    }


def predict(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """Labels of ``x`` (float32 batch) under ``model``."""
    with torch.no_grad():
        return model(torch.as_tensor(x, dtype=torch.float32)).argmax(1).numpy()  # type: ignore[no-any-return]


def as_lists(a: np.ndarray, decimals: int = 6) -> Any:
    """An array as nested lists (rounded float32 values; JSON handouts)."""
    return np.round(a.astype(np.float64), decimals).tolist()

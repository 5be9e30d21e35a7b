"""MNIST, Fashion-MNIST, the MNIST 5k subset and the generated traffic signs, offline.

The packages that carry the data are installed by the set-up (``make datasets``); these
tests read small slices of them.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from advlab.data import load_dataset
from advlab.data.files import RefusedPickleError, load_array_pickle, read_idx
from advlab.data.mnist import read_mnist_pickle
from advlab.data.sign_glyphs import CLASSES
from advlab.data.traffic_signs import generate, render
from advlab.errors import InputError


class _Payload:
    """Pickles as a call to ``os.makedirs`` of a marker folder."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.makedirs, (str(self.marker),))


def _gz_pickle(obj: object, path: Path, protocol: int = 2) -> Path:
    path.write_bytes(gzip.compress(pickle.dumps(obj, protocol=protocol)))
    return path


def _tiny_mnist(rng: np.random.Generator) -> tuple:
    def part(n: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)

    return (part(6), part(3), part(4))


def test_restricted_unpickler_reads_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = _tiny_mnist(rng)
    for protocol in (0, 2, 4):
        out = load_array_pickle(_gz_pickle(data, tmp_path / f"p{protocol}.pkl.gz", protocol))
        np.testing.assert_array_equal(out[1][0], data[1][0])
    arrays = read_mnist_pickle(tmp_path / "p2.pkl.gz")
    assert arrays["x_train"].shape == (9, 28, 28) and arrays["x_train"].dtype == np.uint8
    assert arrays["x_test"].shape == (4, 28, 28) and len(arrays["y_train"]) == 9


def test_tampered_pickle_is_refused_before_anything_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    rng = np.random.default_rng(1)
    (xa, ya), valid, test = _tiny_mnist(rng)
    bad = _gz_pickle(((xa, _Payload(marker)), valid, test), tmp_path / "bad.pkl.gz")
    with pytest.raises(RefusedPickleError, match="makedirs"):
        load_array_pickle(bad)
    assert not marker.exists()


def test_tampered_mnist_copy_is_refused_by_the_loader(tmp_path: Path, monkeypatch) -> None:
    marker = tmp_path / "ran"
    rng = np.random.default_rng(2)
    (xa, ya), valid, test = _tiny_mnist(rng)
    bad = _gz_pickle(((xa, ya), valid, (test[0], _Payload(marker))), tmp_path / "mnist.pkl.gz")
    monkeypatch.setenv("ADVLAB_MNIST_PKL", str(bad))
    with pytest.raises(RefusedPickleError):
        load_dataset("mnist")
    assert not marker.exists()


def test_object_arrays_and_foreign_types_are_refused(tmp_path: Path) -> None:
    obj_array = np.array([1, "a"], dtype=object)
    with pytest.raises(InputError, match="object array"):
        load_array_pickle(_gz_pickle((obj_array,), tmp_path / "o.pkl.gz"))
    with pytest.raises(InputError, match="dict"):
        load_array_pickle(_gz_pickle({"x": 1}, tmp_path / "d.pkl.gz"))
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle at all")
    with pytest.raises(InputError):
        load_array_pickle(tmp_path / "junk.pkl")


def test_idx_reader_round_trip_and_truncation(tmp_path: Path) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = b"\x00\x00\x08\x03" + struct.pack(">III", 2, 3, 4) + images.tobytes()
    (tmp_path / "ok-idx3-ubyte.gz").write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(read_idx(tmp_path / "ok-idx3-ubyte.gz"), images)
    (tmp_path / "short").write_bytes(raw[:-1])
    with pytest.raises(InputError, match="IDX header"):
        read_idx(tmp_path / "short")
    (tmp_path / "text").write_bytes(b"hello world")
    with pytest.raises(InputError, match="not an IDX"):
        read_idx(tmp_path / "text")


def test_mnist_slices_are_seeded_and_scaled() -> None:
    a = load_dataset("mnist", n_train=300, n_test=100, seed=3)
    b = load_dataset("mnist", n_train=300, n_test=100, seed=3)
    c = load_dataset("mnist", n_train=300, n_test=100, seed=4)
    assert a.x_train.shape == (300, 1, 28, 28) and a.x_test.shape == (100, 1, 28, 28)
    assert a.x_train.dtype == np.float32 and 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    assert set(np.unique(a.y_train)) == set(range(10))
    with pytest.raises(Exception, match="n_train"):
        load_dataset("mnist", n_train=70_001)


def test_mnist_5k_and_fashion_mnist() -> None:
    small = load_dataset("mnist_5k")
    assert (len(small.x_train), len(small.x_test)) == (4000, 1000)
    assert small.input_shape == (1, 28, 28) and small.num_classes == 10
    fashion = load_dataset("fashion_mnist", n_train=200, n_test=50)
    assert fashion.x_train.shape == (200, 1, 28, 28) and fashion.class_names[0] == "t-shirt/top"
    # the two sets are different images
    assert abs(float(fashion.x_train.mean()) - float(small.x_train.mean())) > 0.05


def test_fashion_mnist_missing_says_how_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ADVLAB_FASHION_MNIST", str(tmp_path))
    with pytest.raises(InputError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion_mnist")


def test_traffic_signs_are_seeded_balanced_and_in_range() -> None:
    x1, y1 = generate(3, seed=5)
    x2, y2 = generate(3, seed=5)
    x3, _ = generate(3, seed=6)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    assert x1.shape == (3 * 43, 3, 32, 32) and x1.dtype == np.uint8
    assert np.bincount(y1, minlength=43).tolist() == [3] * 43
    img = render(14, np.random.default_rng(0))
    assert img.shape == (3, 32, 32) and 0.0 <= img.min() and img.max() <= 1.0


def test_every_sign_class_is_drawn_differently() -> None:
    """Without degradations the 43 clean renderings are pairwise distinct."""
    from advlab.data.traffic_signs import draw_sign

    coords = (np.arange(64) + 0.5) / 64 * 2 - 1
    v, u = np.meshgrid(coords, coords, indexing="ij")
    clean = []
    for cls in CLASSES:
        canvas = np.zeros((64, 64, 3))
        draw_sign(cls, u / 0.9, v / 0.9, canvas)
        clean.append(canvas.ravel())
    dist = np.abs(np.array(clean)[:, None] - np.array(clean)[None]).mean(-1)
    off_diagonal = dist[~np.eye(len(CLASSES), dtype=bool)]
    assert off_diagonal.min() > 0.005


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_traffic_signs_are_learnable_and_cached() -> None:
    from sklearn.linear_model import LogisticRegression

    data = load_dataset("traffic_signs", n_per_class=30, test_per_class=10, seed=1)
    assert data.input_shape == (3, 32, 32) and data.num_classes == 43
    again = load_dataset("traffic_signs", n_per_class=30, test_per_class=10, seed=1)
    np.testing.assert_array_equal(data.x_test, again.x_test)
    clf = LogisticRegression(max_iter=300, C=0.5)
    clf.fit(data.x_train.reshape(len(data.x_train), -1), data.y_train)
    acc = clf.score(data.x_test.reshape(len(data.x_test), -1), data.y_test)
    assert acc > 5 / 43  # five times chance: the classes carry learnable signal


def test_pickle_bytes_are_never_passed_to_the_stdlib_loader(monkeypatch, tmp_path: Path) -> None:
    """``pickle.loads`` / ``pickle.load`` are not used by the data loaders."""

    def boom(*args, **kwargs):
        raise AssertionError("unrestricted unpickling")

    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "load", boom)
    data = (np.zeros((2, 784), np.float32), np.zeros(2, np.int64))
    path = tmp_path / "m.pkl.gz"
    path.write_bytes(gzip.compress(io.BytesIO(pickle.dumps((data, data, data), 2)).getvalue()))
    assert read_mnist_pickle(path)["x_test"].shape == (2, 28, 28)

"""Reading data files that other packages ship, without running their code.

* :func:`package_file` finds a file inside an installed distribution by its import spec,
  without importing the package (no ``__init__`` runs);
* :func:`load_array_pickle` reads a pickle of numpy arrays with a restricted unpickler
  that admits only numpy's array-reconstruction globals (the "Restricting Globals"
  recipe of the :mod:`pickle` documentation): a tampered file that names any other
  callable is refused before anything is called;
* :func:`read_idx` parses the IDX format of MNIST / Fashion-MNIST with numpy alone.

Converted arrays are cached under ``$ADVLAB_CACHE/data`` as ``.npz`` files read with
``allow_pickle=False``.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import logging
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from advlab.errors import InputError

log = logging.getLogger(__name__)

ARRAY_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }
)
"""The only globals a numpy-array pickle needs (protocols 0-4, as numpy writes them):
array reconstruction, and ``_codecs.encode``, which protocols 0-2 use to rebuild the raw
bytes of an array written by Python 3 (it turns a string into bytes and does nothing else)."""


class RefusedPickleError(InputError):
    """A pickle named a global outside :data:`ARRAY_GLOBALS`; nothing was called."""


def cache_root() -> Path:
    """``$ADVLAB_CACHE/data`` (default ``~/.cache/advlab/data``), created on demand."""
    root = Path(os.environ.get("ADVLAB_CACHE", Path.home() / ".cache" / "advlab")) / "data"
    root.mkdir(parents=True, exist_ok=True)
    return root


def package_file(package: str, relative: str) -> Path | None:
    """``relative`` inside the installed top-level ``package``, or None when absent.

    The package is located through :func:`importlib.util.find_spec`, which reads the
    import system's metadata and does not execute the package.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        path = Path(base) / relative
        if path.is_file():
            return path
    return None


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ARRAY_GLOBALS:
            raise RefusedPickleError(
                f"refusing pickle global {module}.{name}: only numpy array reconstruction "
                "is allowed in a data file"
            )
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedPickleError("refusing a pickle with persistent ids in a data file")


def _check_arrays(obj: Any, depth: int = 0) -> None:
    if depth > 4:
        raise InputError("data pickle nests too deeply")
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise InputError("data pickle holds an object array; only numeric arrays are read")
        return
    if isinstance(obj, (tuple, list)):
        for item in obj:
            _check_arrays(item, depth + 1)
        return
    raise InputError(f"data pickle holds a {type(obj).__name__}; only arrays and tuples are read")


def load_array_pickle(path: str | os.PathLike[str]) -> Any:
    """Tuples of numpy arrays from a (gzipped) pickle, through the restricted unpickler.

    Raises :class:`RefusedPickleError` for any global other than numpy's array
    reconstruction, and :class:`InputError` when the result is not tuples of numeric arrays.
    """
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        obj = _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except RefusedPickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise InputError(f"{os.fspath(path)} is not a readable array pickle: {exc}") from exc
    _check_arrays(obj)
    return obj


_IDX_DTYPES: dict[int, Any] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """An IDX file (optionally gzipped), as used by MNIST and Fashion-MNIST."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise InputError(f"{os.fspath(path)} is not an IDX file")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise InputError(
            f"{os.fspath(path)}: IDX header says {shape} ({expected} bytes), "
            f"file has {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cached_arrays(key: str, build: Any) -> dict[str, np.ndarray]:
    """Arrays cached as ``<cache>/<key>.npz``; ``build()`` returns the dict on a miss."""
    path = cache_root() / f"{key}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            log.warning("rebuilding unreadable cache file %s: %s", path, exc)
    arrays: dict[str, np.ndarray] = build()
    tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)
    return arrays

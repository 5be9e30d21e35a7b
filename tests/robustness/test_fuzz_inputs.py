"""Property-based fuzzing of what users feed the command line: configs, data files, model files.

The property: any input either loads or raises an :class:`~advlab.errors.AdvlabError` (which
the command line prints as one line) whose message is bounded; no other exception escapes.
``ADVLAB_FUZZ_EXAMPLES`` sets the examples per target (default 100).
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from robustness_artifacts import MODEL, write_valid_model  # noqa: E402

from advlab.errors import AdvlabError  # noqa: E402

EXAMPLES = int(os.environ.get("ADVLAB_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MAX_MESSAGE = 2500
"""Longest error message accepted: messages quote bounded excerpts, never a whole input."""

VALID_CONFIG = {
    "version": 1,
    "name": "fuzz",
    "targets": [{"kind": "reference", "name": "a", "dataset": "digits", "train": {"epochs": 1}}],
    "data": {"dataset": "digits", "n": 5},
    "threat_model": {"perturbation": {"norm": "linf", "eps": [0.1]}, "query_budget": None},
    "attacks": ["fgsm", {"name": "pgd", "params": {"steps": 3}}],
    "gates": ["clean_accuracy(target=a) >= 0.5"],
    "seed": 0,
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)


def _expect_clean(call) -> object:  # type: ignore[no-untyped-def]
    try:
        return call()
    except AdvlabError as exc:
        assert len(str(exc)) <= MAX_MESSAGE, f"{len(str(exc))}-character message"
        return exc


def _paths(data: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


def _replace(data: object, path: tuple, value: object) -> object:
    if not path:
        return value
    copy = json.loads(json.dumps(data))
    node = copy
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return copy


CONFIG_PATHS = _paths(VALID_CONFIG)


@FUZZ
@given(data=values)
def test_fuzz_config_random_documents(data: object) -> None:
    from advlab.assess.config import parse_config

    _expect_clean(lambda: parse_config(data))


@FUZZ
@given(where=st.sampled_from(CONFIG_PATHS), value=values)
def test_fuzz_config_one_field_replaced(where: tuple, value: object) -> None:
    """The valid config with one field (at any depth) replaced by an arbitrary value."""
    from advlab.assess.config import parse_config

    _expect_clean(lambda: parse_config(_replace(VALID_CONFIG, where, value)))


@FUZZ
@given(raw=st.binary(max_size=2000))
def test_fuzz_config_file_bytes(raw: bytes, tmp_path: Path) -> None:
    from advlab.assess.config import load_config

    path = tmp_path / "c.yaml"
    path.write_bytes(raw)
    _expect_clean(lambda: load_config(path))


# ---------------------------------------------------------------------------- data files
def _npz_bytes() -> bytes:
    buf = io.BytesIO()
    x = np.random.default_rng(0).random((12, 3))
    np.savez(buf, x=x, y=np.arange(12) % 2)
    return buf.getvalue()


NPZ = _npz_bytes()


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` truncated, with bytes overwritten, or with random bytes inserted."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:]
        else:
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=3000), mutated(NPZ)))
def test_fuzz_npz_loader(raw: bytes, tmp_path: Path) -> None:
    from advlab.data.loaders import load_npz

    path = tmp_path / "d.npz"
    path.write_bytes(raw)
    _expect_clean(lambda: load_npz(path))


CSV = b"a,b,label\n0.1,0.2,0\n0.3,0.4,1\n0.5,0.6,0\n0.7,0.8,1\n"


@FUZZ
@given(raw=st.one_of(st.binary(max_size=500), mutated(CSV), st.text(max_size=300).map(str.encode)))
def test_fuzz_csv_loader(raw: bytes, tmp_path: Path) -> None:
    from advlab.data.loaders import load_csv

    path = tmp_path / "d.csv"
    path.write_bytes(raw)
    _expect_clean(lambda: load_csv(path))


# ---------------------------------------------------------------------------- model files
@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict]:
    folder = tmp_path_factory.mktemp("fuzz-model")
    write_valid_model(folder)
    meta = json.loads((folder / MODEL).with_suffix(".json").read_text())
    return (folder / MODEL).read_bytes(), meta


def _header_mutation(good: bytes, value: object, key: str) -> bytes:
    n = struct.unpack("<Q", good[:8])[0]
    header = json.loads(good[8 : 8 + n])
    name = next(k for k in header if k != "__metadata__")
    header[name][key] = value
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + good[8 + n :]


@FUZZ
@given(data=st.data())
def test_fuzz_load_bundle_weights(data: st.DataObject, model_files, tmp_path: Path) -> None:
    """Random bytes, mutated weights and forged tensor headers (shape, dtype, offsets)."""
    from advlab.models import load_bundle

    good, meta = model_files
    kind = data.draw(st.sampled_from(["random", "mutated", "header"]))
    if kind == "random":
        raw = data.draw(st.binary(max_size=4000))
    elif kind == "mutated":
        raw = data.draw(mutated(good))
    else:
        key = data.draw(st.sampled_from(["shape", "dtype", "data_offsets"]))
        raw = _header_mutation(good, data.draw(values), key)
    (tmp_path / "m.safetensors").write_bytes(raw)
    (tmp_path / "m.json").write_text(json.dumps(meta))
    _expect_clean(lambda: load_bundle(tmp_path / "m.safetensors"))


META_KEYS = ["arch", "input_shape", "num_classes", "bounds", "format", "preprocess"]


@FUZZ
@given(key=st.sampled_from(META_KEYS), value=values, raw=st.none() | st.binary(max_size=300))
def test_fuzz_load_bundle_metadata(key: str, value: object, raw, model_files, tmp_path) -> None:
    """Metadata with one key replaced by an arbitrary value, or arbitrary bytes."""
    from advlab.models import load_bundle

    good, meta = model_files
    (tmp_path / "m.safetensors").write_bytes(good)
    text = raw if raw is not None else json.dumps({**meta, key: value}).encode()
    (tmp_path / "m.json").write_bytes(text)
    result = _expect_clean(lambda: load_bundle(tmp_path / "m.safetensors"))
    if not isinstance(result, AdvlabError):  # it loaded: then it must be usable as a target
        result.target(device="cpu")  # type: ignore[attr-defined]


def test_torch_zip_checkpoint_is_refused(tmp_path: Path, model_files) -> None:
    """A zip (PyTorch checkpoint) named .safetensors: refused as unsafe, never opened."""
    from advlab.errors import UnsafeFileError
    from advlab.models import load_bundle

    _, meta = model_files
    with zipfile.ZipFile(tmp_path / "m.safetensors", "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    (tmp_path / "m.json").write_text(json.dumps(meta))
    with pytest.raises(UnsafeFileError):
        load_bundle(tmp_path / "m.safetensors")

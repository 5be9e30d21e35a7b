"""Embedded data, user-data loaders, models, safe model files."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from advlab.data import load_csv, load_dataset, load_npz
from advlab.errors import InputError, UnknownNameError, UnsafeFileError
from advlab.models import MLP, TrainConfig, accuracy, build, load_bundle, save_model, train_model


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "wine", "synthetic"])
def test_embedded_datasets(name):
    ds = load_dataset(name, seed=1)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_train.min() >= 0 and ds.x_train.max() <= 1
    again = load_dataset(name, seed=1)
    assert np.array_equal(ds.x_test, again.x_test)
    other = load_dataset(name, seed=2)
    assert not np.array_equal(ds.y_test, other.y_test)
    # the modality is the one word for what the inputs are (a ``modality:`` tag value)
    assert ds.modality == ("image" if ds.x_train.ndim >= 3 else "tabular")
    assert ds.describe()["modality"] == ds.modality


def test_synthetic_has_many_classes():
    ds = load_dataset("synthetic", n_classes=20, seed=0)
    assert ds.num_classes == 20


def test_unknown_dataset_lists_valid():
    with pytest.raises(UnknownNameError, match="digits"):
        load_dataset("mnist-from-the-internet")


def test_npz_and_csv_loaders(tmp_path):
    x = np.random.RandomState(0).rand(40, 5).astype(np.float32)
    y = np.arange(40) % 2
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds = load_npz(tmp_path / "d.npz")
    assert ds.input_shape == (5,) and len(ds.x_train) + len(ds.x_test) == 40
    assert ds.modality == "tabular"
    np.savez(tmp_path / "img.npz", x=x.reshape(40, 1, 1, 5), y=y)
    assert load_npz(tmp_path / "img.npz").modality == "image"
    np.savez(tmp_path / "bad.npz", x=x * 10, y=y)
    with pytest.raises(InputError, match="outside bounds"):
        load_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object), y=np.array([0]))
    with pytest.raises(InputError, match="pickle"):
        load_npz(tmp_path / "obj.npz")
    lines = ["a,b,label"] + [f"{i},{i * 2},{'cat' if i % 2 else 'dog'}" for i in range(20)]
    (tmp_path / "t.csv").write_text("\n".join(lines))
    ds = load_csv(tmp_path / "t.csv")
    assert ds.class_names == ["cat", "dog"] and ds.feature_names == ["a", "b"]
    with pytest.raises(InputError, match="no label column"):
        load_csv(tmp_path / "t.csv", label="target")


def test_train_is_seeded_and_learns():
    ds = load_dataset("wine", seed=0)
    cfg = TrainConfig(epochs=30, seed=5)
    torch.manual_seed(0)
    init = MLP(13, 3, hidden=(16,))
    m2 = MLP(13, 3, hidden=(16,))
    m2.load_state_dict(init.state_dict())
    m1 = train_model(init, ds.x_train, ds.y_train, cfg, device="cpu")
    torch.manual_seed(123)  # the loop re-seeds: outside state does not matter
    m2 = train_model(m2, ds.x_train, ds.y_train, cfg, device="cpu")
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(a, b)
    assert accuracy(m1, ds.x_test, ds.y_test) > 0.85


def test_safetensors_roundtrip_and_pickle_refused(tmp_path):
    spec = {"arch": "mlp", "in_features": 4, "num_classes": 3, "hidden": [8]}
    model = build(spec)
    p = save_model(
        model,
        tmp_path / "m.safetensors",
        {"arch": spec, "input_shape": [4], "num_classes": 3, "bounds": [0, 1]},
    )
    meta = json.loads(p.with_suffix(".json").read_text())
    assert meta["format"] == "advlab-model"
    bundle = load_bundle(p)
    x = torch.rand(3, 4)
    assert torch.equal(bundle.model(x), model.eval()(x))
    # a pickle is refused, never loaded (the canary file must not appear)
    canary = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(canary), "w"))

    (tmp_path / "evil.safetensors").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(UnsafeFileError, match="advlab scan"):
        load_bundle(tmp_path / "evil.safetensors")
    torch.save(model.state_dict(), tmp_path / "m.pt")
    with pytest.raises(UnsafeFileError, match="convert"):
        load_bundle(tmp_path / "m.pt")
    assert not canary.exists()


@pytest.mark.parametrize("first_byte", [0x28, 0x80])
def test_safetensors_whose_header_length_reads_as_a_pickle_opcode_loads(tmp_path, first_byte):
    # the 8-byte header length comes first; when its low byte is "(" (MARK) or 0x80 (PROTO)
    # the file must still be recognised as safetensors, not refused as a pickle
    from safetensors.torch import save_file

    spec = {"arch": "mlp", "in_features": 4, "num_classes": 3, "hidden": [8]}
    model = build(spec, seed=0).eval()
    meta = {"arch": spec, "input_shape": [4], "num_classes": 3, "bounds": [0, 1]}
    p = save_model(model, tmp_path / "m.safetensors", meta)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    for pad in range(0, 600):
        save_file(state, str(p), metadata={"pad": "x" * pad})
        if p.read_bytes()[0] == first_byte:
            break
    assert p.read_bytes()[0] == first_byte
    x = torch.rand(3, 4)
    assert torch.equal(load_bundle(p).model(x), model(x))


def test_reference_model_is_cached(tmp_path, monkeypatch):
    from advlab.models import reference_model

    monkeypatch.setenv("ADVLAB_CACHE", str(tmp_path))
    b1 = reference_model("wine", train=TrainConfig(epochs=2))
    files = sorted(tmp_path.iterdir())
    assert any(f.suffix == ".safetensors" for f in files)
    mtime = max(f.stat().st_mtime_ns for f in files)
    b2 = reference_model("wine", train=TrainConfig(epochs=2))
    assert max(f.stat().st_mtime_ns for f in tmp_path.iterdir()) == mtime
    x = torch.rand(2, 13)
    assert torch.equal(b1.model(x), b2.model(x))

"""Reference architectures: the small ResNet builds, learns, round-trips through safetensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from advlab.errors import ConfigError
from advlab.models import TrainConfig, build, default_spec, load_bundle, save_model, train_model


def colour_task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy 3x16x16 images whose class is which channel carries a bright blob."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.random((n, 3, 16, 16)).astype(np.float32) * 0.5
    for i, c in enumerate(y):
        r, q = rng.integers(0, 10, 2)
        x[i, c, r : r + 6, q : q + 6] += 0.5
    return x.clip(0, 1), y.astype(np.int64)


def test_resnet_spec_shapes_and_embedding() -> None:
    spec = default_spec((3, 32, 32), 43, "resnet")
    assert spec["arch"] == "resnet" and spec["image_size"] == 32
    model = build(spec, seed=0).eval()
    x = torch.rand(5, 3, 32, 32)
    assert model(x).shape == (5, 43)
    assert model.embed(x).shape == (5, 64)
    assert torch.allclose(model.head(model.embed(x)), model(x))
    a = build(spec, seed=0).state_dict()
    b = build(spec, seed=0).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # the seed fixes the weights


def test_resnet_learns_and_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    x, y = colour_task(600, 0)
    xt, yt = colour_task(200, 1)
    spec = default_spec((3, 16, 16), 3, "resnet")
    model = build(spec, seed=0)
    train_model(model, x, y, TrainConfig(epochs=4, batch_size=64, lr=3e-3))
    model.eval()
    with torch.no_grad():
        acc = float((model(torch.as_tensor(xt)).argmax(1).numpy() == yt).mean())
    assert acc > 0.9, acc
    meta = {"arch": spec, "input_shape": [3, 16, 16], "num_classes": 3, "bounds": [0.0, 1.0]}
    save_model(model, tmp_path / "r.safetensors", meta)
    again = load_bundle(tmp_path / "r.safetensors").model.eval()
    # batch-norm running statistics travel with the weights
    with torch.no_grad():
        assert torch.allclose(again(torch.as_tensor(xt)), model(torch.as_tensor(xt)), atol=1e-5)


def test_architecture_errors() -> None:
    with pytest.raises(ConfigError, match="resnet needs"):
        default_spec((64,), 10, "resnet")
    with pytest.raises(ConfigError, match="unknown architecture"):
        default_spec((3, 32, 32), 10, "resnett")

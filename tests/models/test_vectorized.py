"""Stacked (vmap) training of many small models: each model is its own training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from advlab.errors import ConfigError, InputError
from advlab.models import TrainConfig, build, train_model
from advlab.models.vectorized import _check_vectorisable, train_stacked

SPEC = {"arch": "mlp", "in_features": 6, "num_classes": 3, "hidden": [16]}


def _data(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 6), dtype=np.float32)
    y = (x[:, 0] * 3).astype(np.int64).clip(0, 2)
    return x, y


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_full_batch_stacked_training_equals_the_serial_loop() -> None:
    x, y = _data()
    member = np.zeros((2, len(x)), bool)
    member[0, :40] = True
    member[1, 20:] = True
    seeds = [11, 12]
    stacked = train_stacked(SPEC, x, y, member, seeds, epochs=5, batch_size=64, lr=1e-2)
    for m, seed in enumerate(seeds):
        serial = train_model(
            build(SPEC, seed=seed),
            x[member[m]],
            y[member[m]],
            TrainConfig(epochs=5, batch_size=64, lr=1e-2, seed=seed),
            device="cpu",
        )
        torch.testing.assert_close(_flat(stacked.module(m)), _flat(serial), atol=1e-5, rtol=1e-4)


def test_a_model_does_not_depend_on_its_companions() -> None:
    x, y = _data(90, seed=1)
    rng = np.random.default_rng(0)
    member = rng.random((3, len(x))) < 0.5
    a = train_stacked(SPEC, x, y, member[[0, 1]], [5, 6], epochs=3, batch_size=8)
    b = train_stacked(SPEC, x, y, member[[0, 2]], [5, 7], epochs=3, batch_size=8)
    torch.testing.assert_close(_flat(a.module(0)), _flat(b.module(0)), atol=1e-5, rtol=1e-4)
    assert not torch.allclose(_flat(a.module(1)), _flat(b.module(1)))
    logits = a.predict(x)
    assert logits.shape == (2, len(x), 3) and logits.dtype == np.float64
    np.testing.assert_allclose(
        logits[0], a.module(0)(torch.as_tensor(x)).detach().double().numpy(), atol=1e-5
    )


def test_stacked_models_learn() -> None:
    x, y = _data(200, seed=2)
    member = np.ones((3, len(x)), bool)
    stacked = train_stacked(SPEC, x, y, member, [1, 2, 3], epochs=40, batch_size=32, lr=1e-2)
    acc = (stacked.predict(x).argmax(-1) == y).mean(axis=1)
    majority = np.bincount(y).max() / len(y)
    assert (acc > majority + 0.1).all()


def test_bad_inputs_and_batch_norm_are_refused() -> None:
    x, y = _data()
    with pytest.raises(InputError, match="member has shape"):
        train_stacked(SPEC, x, y, np.ones((2, 5), bool), [1, 2])
    empty = np.ones((2, len(x)), bool)
    empty[1] = False
    with pytest.raises(InputError, match="at least one"):
        train_stacked(SPEC, x, y, empty, [1, 2])
    with pytest.raises(ConfigError, match="running statistics"):
        _check_vectorisable(nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)))


@pytest.mark.parametrize("weight_decay", [0.0, 1e-3])
def test_the_fused_mlp_path_trains_the_same_models_as_vmap(weight_decay: float) -> None:
    x, y = _data(90, seed=3)
    member = np.random.default_rng(1).random((3, len(x))) < 0.6
    spec = {**SPEC, "hidden": [16, 8]}
    kw = {"epochs": 4, "batch_size": 16, "lr": 1e-2, "weight_decay": weight_decay}
    fused = train_stacked(spec, x, y, member, [1, 2, 3], fused=True, **kw)  # type: ignore[arg-type]
    plain = train_stacked(spec, x, y, member, [1, 2, 3], fused=False, **kw)  # type: ignore[arg-type]
    assert set(fused.params) == set(plain.params)
    for name in plain.params:
        torch.testing.assert_close(fused.params[name], plain.params[name], atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(fused.predict(x), plain.predict(x), atol=1e-4)


def test_the_fused_path_applies_only_to_dropout_free_mlps() -> None:
    from advlab.models.fused import FusedMLP

    assert FusedMLP.of(build(SPEC, seed=0)) is not None
    assert FusedMLP.of(build({**SPEC, "dropout": 0.5}, seed=0)) is None
    cnn = {"arch": "cnn", "in_channels": 1, "image_size": 8, "num_classes": 3, "width": 4}
    assert FusedMLP.of(build(cnn, seed=0)) is None
    x, y = _data()
    with pytest.raises(ConfigError, match="dropout-free MLP"):
        train_stacked({**SPEC, "dropout": 0.5}, x, y, np.ones((1, len(x)), bool), [1], fused=True)


def test_the_by_hand_gradients_equal_autograd() -> None:
    from advlab.models.fused import FusedMLP, FusedMLPStep

    spec = {**SPEC, "hidden": [16, 8]}
    models = [build(spec, seed=s) for s in (1, 2)]
    chain = FusedMLP.of(models[0])
    assert chain is not None
    params = chain.to_training(torch.func.stack_module_state(models)[0])  # type: ignore[arg-type]
    x, y = _data(30)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    idx = torch.tensor([[0, 4, 7, 9, 0], [3, 5, 11, 0, 0]])
    real = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]], dtype=torch.float32)
    weight = real / real.sum(1, keepdim=True)
    grads = FusedMLPStep(chain, params, batch_size=5)(xt, yt, idx, weight)
    logits = chain.forward(params, xt[idx])
    ce = torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), yt[idx].flatten(), reduction="none"
    )
    (ce.view(2, -1) * weight).sum().backward()
    for name, p in params.items():
        torch.testing.assert_close(grads[name], p.grad, atol=1e-6, rtol=1e-5)


def test_the_fused_adam_kernel_equals_the_elementwise_update() -> None:
    from advlab.models.vectorized import _StackedAdam

    gen = torch.Generator().manual_seed(0)
    start = {"w": torch.randn(5, 4, 3, generator=gen), "b": torch.randn(5, 3, generator=gen)}
    a = _StackedAdam({k: v.clone() for k, v in start.items()}, lr=1e-2, weight_decay=1e-2)
    b = _StackedAdam({k: v.clone() for k, v in start.items()}, lr=1e-2, weight_decay=1e-2)
    if a.kernel is None:
        pytest.skip("this torch build has no fused Adam kernel")
    b.kernel = None
    b.scratch = [(torch.empty_like(p), torch.empty_like(p)) for p in b.params]
    rng = np.random.default_rng(0)
    for _ in range(12):  # models drop out of steps at random, so their step counts diverge
        active = rng.random(5) < 0.7
        grads = [torch.randn(p.shape, generator=gen) for p in a.params]
        grads = [g * torch.as_tensor(active).view(-1, *[1] * (g.dim() - 1)) for g in grads]
        a.step(active, grads)
        b.step(active, grads)
    assert len(set(a.t.tolist())) > 1
    for p, q in zip(a.params, b.params, strict=True):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5)
    frozen = start["b"].clone()
    c = _StackedAdam({"b": frozen}, lr=1e-2)
    c.step(np.array([False, True, False, False, True]), [torch.ones(5, 3)])
    torch.testing.assert_close(frozen[[0, 2, 3]], start["b"][[0, 2, 3]])
    assert not torch.allclose(frozen[[1, 4]], start["b"][[1, 4]])

"""Reference models trained in one vectorised run agree with the serial trainer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from advlab.attacks.inference.lira import LiRA
from advlab.attacks.inference.reference import ReferenceModels, TorchTrainer
from advlab.attacks.inference.reference_vmap import VectorizedTorchTrainer
from advlab.attacks.inference.signals import Signals
from advlab.models import TrainConfig

SPEC = {"arch": "mlp", "in_features": 10, "num_classes": 4, "hidden": [16]}


def _task(n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((n, 10), dtype=np.float32)
    y = (x[:, :4].argmax(1)).astype(np.int64)
    return x, y


def test_vectorised_reference_models_match_the_serial_trainer(tmp_path: Path) -> None:
    x, y = _task()
    cfg = TrainConfig(epochs=6, batch_size=128, lr=1e-2)  # one full batch per epoch: exact
    base = {"n_models": 4, "seed": 1}
    serial = ReferenceModels(trainer=TorchTrainer(spec=SPEC, config=cfg), **base).run(x, y)
    vec = ReferenceModels(
        trainer=VectorizedTorchTrainer(spec=SPEC, config=cfg), cache_dir=tmp_path, **base
    ).run(x, y)
    assert vec.logits.shape == serial.logits.shape == (4, len(x), 1, 4)
    np.testing.assert_array_equal(vec.ref_in, serial.ref_in)
    np.testing.assert_allclose(vec.logits, serial.logits, atol=1e-3)
    s1 = Signals(
        labels=y, target_logits=serial.logits[0], ref_logits=serial.logits, ref_in=serial.ref_in
    ).with_target(0)
    s2 = Signals(
        labels=y, target_logits=vec.logits[0], ref_logits=vec.logits, ref_in=vec.ref_in
    ).with_target(0)
    assert np.corrcoef(LiRA().score(s1), LiRA().score(s2))[0, 1] > 0.999


def test_vectorised_reference_models_are_cached(tmp_path: Path, monkeypatch) -> None:
    x, y = _task()
    trainer = VectorizedTorchTrainer(spec=SPEC, config=TrainConfig(epochs=2, batch_size=16))
    first = ReferenceModels(trainer=trainer, n_models=3, cache_dir=tmp_path).run(x, y)
    assert len(list(tmp_path.glob("ref-*.npy"))) == 3

    def boom(*args, **kwargs):
        raise AssertionError("retrained a cached model")

    monkeypatch.setattr(VectorizedTorchTrainer, "fit_many", boom)
    again = ReferenceModels(trainer=trainer, n_models=3, cache_dir=tmp_path).run(x, y)
    np.testing.assert_array_equal(first.logits, again.logits)


def test_vectorised_trainer_refuses_adversarial_training() -> None:
    from advlab.errors import ConfigError

    trainer = VectorizedTorchTrainer(spec=SPEC, config=TrainConfig(adversarial="pgd"))
    with pytest.raises(ConfigError, match="standard models"):
        trainer.describe()

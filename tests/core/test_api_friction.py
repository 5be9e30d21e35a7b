"""The Python API as a newcomer meets it: printable results, NumPy results, one reference
model cache, documented .npz layouts."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from advlab.attacks.evasion import FGSM, PGD
from advlab.errors import InputError
from advlab.results import EvasionResult, Result, SweepResult


@pytest.fixture(scope="module")
def result(digits_bundle, digits) -> EvasionResult:
    target = digits_bundle.target(device="cpu")
    return PGD(eps=0.1, steps=5).run(target, digits.x_test[:40], digits.y_test[:40])


def test_repr_is_a_one_line_summary(result: EvasionResult, digits_bundle, digits) -> None:
    text = repr(result)
    assert text.startswith("EvasionResult(") and "\n" not in text and len(text) < 900
    assert f"robust_accuracy={result.robust_accuracy:.4g}" in text
    assert "tensor(" not in text and "array(" not in text
    sweep = FGSM().sweep(digits_bundle.target(device="cpu"), digits.x_test[:20], eps=[0.05, 0.1])
    assert isinstance(sweep, SweepResult) and repr(sweep).startswith("SweepResult(")
    assert "tensor(" not in repr(sweep)


def test_numpy_copy_keeps_every_property(result: EvasionResult) -> None:
    arr = result.numpy()
    assert isinstance(arr, EvasionResult) and arr is not result
    for name in ("x_adv", "y", "clean_correct", "success", "norms"):
        assert isinstance(getattr(arr, name), np.ndarray), name
        np.testing.assert_array_equal(getattr(arr, name), getattr(result, name).numpy())
    assert isinstance(result.x_adv, torch.Tensor)  # the original is unchanged
    assert arr.summary() == result.summary()
    assert arr.median_norm == pytest.approx(result.median_norm)
    back = Result.from_json(arr.to_json())
    assert back.robust_accuracy == result.robust_accuracy


def test_one_reference_model_for_the_api_the_demo_and_configs(monkeypatch) -> None:
    """reference_model("digits"), the demo's standard model and a `kind: reference` target
    with or without the same training options resolve to one cache file."""
    import advlab.models as models
    from advlab.assess import build
    from advlab.assess.config import parse_config
    from advlab.assess.demo import demo_config

    seen: list[Path] = []

    def fake(dataset: str, *, arch=None, train=None, **kw):
        seen.append(models.reference_path(dataset, arch=arch, train=train))
        raise RuntimeError("stop before training")

    monkeypatch.setattr(models, "reference_model", fake)
    demo_std = demo_config(quick=True).targets[0]
    plain = parse_config(
        {"targets": [{"kind": "reference", "dataset": "digits"}], "data": {"dataset": "digits"}}
    ).targets[0]
    for spec in (demo_std, plain):
        with pytest.raises(RuntimeError, match="stop"):
            build._build_base(spec, ".")
    assert seen == [models.reference_path("digits")] * 2
    other = models.reference_path("digits", train=models.reference_train(epochs=3))
    assert other != seen[0]


def test_npz_layouts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from advlab.data import load_dataset

    rng = np.random.default_rng(0)
    x = rng.random((40, 4)).astype(np.float32)
    y = np.repeat(np.arange(2), 20)
    np.savez(tmp_path / "one.npz", x=x, y=y)
    with caplog.at_level(logging.WARNING, logger="advlab.data.loaders"):
        ds = load_dataset(str(tmp_path / "one.npz"))
    assert len(ds.x_test) == 10 and len(ds.x_train) == 30
    assert "split into train and test" in caplog.text and "x_train, y_train" in caplog.text
    np.savez(tmp_path / "four.npz", x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="advlab.data.loaders"):
        ds = load_dataset(str(tmp_path / "four.npz"))
    np.testing.assert_array_equal(ds.x_test, x[30:])  # used as given
    assert "split" not in caplog.text
    np.savez(tmp_path / "half.npz", x_train=x, y_train=y)
    with pytest.raises(InputError, match="x_test and y_test; found"):
        load_dataset(str(tmp_path / "half.npz"))

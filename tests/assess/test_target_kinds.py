"""Keras and Hugging Face targets in assessment configs; python entry points beside the config;
``advlab validate`` describing (and with --probe, querying) every target."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402

from advlab.assess import run_assessment  # noqa: E402
from advlab.assess.cli import main as cli_main  # noqa: E402


def _keras_digits_model(path: Path) -> Path:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    model.save(path)
    return path


def _write(tmp_path: Path, cfg: dict[str, Any]) -> Path:
    p = tmp_path / "assess.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def test_keras_target_runs_in_an_assessment(tmp_path: Path, make_config: Any) -> None:
    _keras_digits_model(tmp_path / "cnn.keras")
    cfg = make_config(
        targets=[{"kind": "keras", "name": "k", "path": "cnn.keras", "device": "cpu"}],
        gates=[],
    )
    cfg["attacks"] = [{"name": "fgsm"}]
    path = _write(tmp_path, cfg)
    res = run_assessment(path, tmp_path / "run").results
    ok = [r for r in res["records"] if r["task"]["role"] == "suite"]
    assert ok and all(r["status"] == "ok" for r in ok)


def test_validate_describes_file_targets_and_probes_code_beside_the_config(
    tmp_path: Path, make_config: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _keras_digits_model(tmp_path / "cnn.keras")
    (tmp_path / "my_targets.py").write_text(
        "from assess_helpers import save_tiny_model\n"
        "from advlab.models import load_bundle\n"
        "def make(path):\n"
        "    return load_bundle(save_tiny_model(__import__('pathlib').Path(path))).target("
        "device='cpu')\n"
    )
    cfg = make_config(
        targets=[
            {"kind": "keras", "name": "k", "path": "cnn.keras", "device": "cpu"},
            {
                "kind": "python",
                "name": "py",
                "entry": "my_targets:make",
                "kwargs": {"path": str(tmp_path / "t.safetensors")},
            },
        ],
        gates=[],
    )
    path = _write(tmp_path, cfg)
    assert cli_main(["validate", str(path)]) == 0
    plain = capsys.readouterr().out
    assert "targets.0 (k): input (1, 8, 8), 10 classes, access gradients" in plain
    assert "targets.1 (py)" not in plain
    assert cli_main(["validate", str(path), "--probe"]) == 0
    probed = capsys.readouterr().out
    assert "targets.1 (py): input (1, 8, 8), 10 classes" in probed
    assert probed.count("one query answered label") == 2


def test_missing_keras_file_is_a_validation_error(
    tmp_path: Path, make_config: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = make_config(targets=[{"kind": "keras", "name": "k", "path": "nope.keras"}], gates=[])
    assert cli_main(["validate", str(_write(tmp_path, cfg))]) == 2
    assert "not found" in capsys.readouterr().err

"""Outputs of the command line: parents created, nothing written elsewhere, JSON says what ran."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "robustness"))

from robustness_artifacts import write_valid_model  # noqa: E402
from robustness_helpers import run_in_process, tree  # noqa: E402


def test_attack_writes_json_into_new_folders_with_the_eps_used(tmp_path: Path) -> None:
    write_valid_model(tmp_path)
    before = tree(tmp_path)
    res = run_in_process(
        ["attack", "model.safetensors", "digits", "-a", "fgsm", "--eps", "0.1", "--n", "4",
         "--device", "cpu", "-q", "--json", "out/deep/r.json"],
        tmp_path,
    )  # fmt: skip
    assert res.code == 0, res.stderr
    assert tree(tmp_path) - before == {"out", "out/deep", "out/deep/r.json"}
    data = json.loads((tmp_path / "out/deep/r.json").read_text())
    assert [r["eps"] for r in data["results"]] == [pytest.approx(0.1)]


def test_attack_refuses_eps_in_param_instead_of_writing_a_different_value(tmp_path: Path) -> None:
    write_valid_model(tmp_path)
    res = run_in_process(
        ["attack", "model.safetensors", "digits", "--param", "eps=0.3", "--eps", "0.1",
         "--json", "r.json"],
        tmp_path,
    )  # fmt: skip
    assert res.code == 4 and "--eps" in res.stderr
    assert not (tmp_path / "r.json").exists()


def test_train_out_without_suffix_and_missing_parents(tmp_path: Path, monkeypatch) -> None:
    import advlab.models

    real = advlab.models.train_model
    monkeypatch.setattr(
        advlab.models,
        "train_model",
        lambda model, x, y, cfg, **kw: real(model, x[:64], y[:64], cfg, **kw),
    )
    res = run_in_process(
        ["train", "digits", "--epochs", "1", "--device", "cpu", "-q", "--out", "a/b/m"], tmp_path
    )
    assert res.code == 0, res.stderr
    assert tree(tmp_path) == {"a", "a/b", "a/b/m.safetensors", "a/b/m.json"}

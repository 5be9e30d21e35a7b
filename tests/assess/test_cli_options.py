"""`advlab assess` takes the common options (--quiet, --seed, --device) and shares its exit
codes with `validate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from advlab.cli import main


def _main(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return int(exc.value.code or 0)


def test_seed_device_quiet_are_applied_and_recorded(
    make_config: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setattr("advlab.utils._QUIET", False)  # restored after the test
    cfg = make_config(attacks=[{"name": "pgd", "params": {"steps": 3}}], gates=[])
    cfg["targets"][0]["device"] = "auto"
    cfg["threat_model"]["perturbation"]["eps"] = [0.1]
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    code = _main(["assess", str(path), "--out", str(out), "--seed", "7", "--device", "cpu", "-q"])
    assert code == 0, capsys.readouterr().err
    res = json.loads((out / "results.json").read_text())
    assert res["seed"] == 7 and res["config"]["seed"] == 7
    assert [t["device"] for t in res["config"]["targets"]] == ["cpu"]
    assert res["config_path"] == str(path.resolve())  # the reports still point at the file
    # the seed is part of every task's identity (and so of its own seed)
    from advlab.assess.config import load_config
    from advlab.assess.runner import plan

    keys_default = {t.key for t in plan(load_config(path), tmp_path)}
    assert keys_default and not keys_default & {r["key"] for r in res["records"]}
    from advlab import utils

    assert utils._QUIET  # progress bars and periodic progress lines are off
    assert "INFO" not in capsys.readouterr().err


def test_missing_config_and_bad_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope.yaml")
    assert _main(["validate", missing]) == _main(["assess", missing]) == 2
    assert "not found" in capsys.readouterr().err
    assert _main(["assess", missing, "--device", "tpu"]) == 4  # a bad option value: usage

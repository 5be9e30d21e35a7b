"""``advlab lab list | start | grade | submit | serve`` through the main entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from solutions.threat_model import ANSWER

from advlab.cli import main
from advlab.lab.flags import SECRET_ENV, make_flag


def _run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        main(args)
    return int(info.value.code or 0)


def test_list_json_names_every_challenge(capsys: Any) -> None:
    assert _run(["lab", "list", "--json"]) == 0
    cards = json.loads(capsys.readouterr().out)
    names = {c["name"] for c in cards}
    assert {"threat_model", "evasion_whitebox", "membership", "backdoor"} <= names
    assert all(c["threat_model"] and c["tier"] in ("easy", "medium", "hard") for c in cards)


def test_start_writes_the_readme_handout_and_files(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "wb"
    assert _run(["lab", "start", "evasion_whitebox", "-o", str(out)]) == 0
    readme = (out / "README.md").read_text()
    assert "## Threat model" in readme and "white box" in readme
    handout = json.loads((out / "handout.json").read_text())
    assert handout["eps"] == 0.2 and len(handout["x"]) == 20
    from advlab.models import load_bundle

    assert load_bundle(out / "model.safetensors").meta["num_classes"] == 10


def test_grade_prints_the_local_flag(tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setenv(SECRET_ENV, "a-local-secret-for-the-cli-test")
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(ANSWER))
    bad.write_text("{}")
    assert _run(["lab", "grade", "threat_model", str(bad), "--user", "ann"]) == 1
    assert "not solved" in capsys.readouterr().out
    assert _run(["lab", "grade", "threat_model", str(good), "--user", "ann"]) == 0
    flag = make_flag(b"a-local-secret-for-the-cli-test", "ann", "threat_model")
    assert f"flag for ann: {flag}" in capsys.readouterr().out


def test_submit_needs_a_key_and_one_of_file_or_flag(monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.delenv("ADVLAB_LAB_KEY", raising=False)
    assert _run(["lab", "submit", "threat_model", "--flag", "advlab{x}"]) == 2
    assert "ADVLAB_LAB_KEY" in capsys.readouterr().err
    assert _run(["lab", "submit", "threat_model"]) == 2


def test_submit_against_the_server(
    lab_url: str, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    from advlab.lab.client import LabClient

    client = LabClient(lab_url)
    monkeypatch.setenv("ADVLAB_LAB_KEY", client.register("cli-user"))
    answer = tmp_path / "a.json"
    answer.write_text(json.dumps(ANSWER))
    assert _run(["lab", "submit", "threat_model", str(answer), "--url", lab_url]) == 0
    out = capsys.readouterr().out
    flag = out.split("flag: ")[1].strip()
    assert _run(["lab", "submit", "threat_model", "--flag", flag, "--url", lab_url]) == 0
    assert "flag accepted" in capsys.readouterr().out


def test_serve_refuses_a_bad_port(capsys: Any) -> None:
    assert _run(["lab", "serve", "--port", "70000"]) == 4

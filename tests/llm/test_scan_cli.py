"""``advlab llm scan`` against ``advlab serve-llm`` on 127.0.0.1: findings, exit codes, resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from advlab.cli import main

PROBES = "prompt_leak,exfiltration,prompt_injection"


def _run(*args: str) -> int:
    with pytest.raises(SystemExit) as exc:
        main(["llm", "scan", *args])
    return int(exc.value.code or 0)


def test_scan_finds_the_weaknesses_of_level_0_and_resumes_without_sending(
    llm_server: tuple[str, Any], tmp_path: Path
) -> None:
    url, stats = llm_server
    out = tmp_path / "run"
    common = ["--base-url", url, "--secret", "COCOLOCO", "--probes", PROBES, "--out", str(out)]
    assert _run("--model", "level-0", *common) == 1
    summary = json.loads((out / "summary.json").read_text())
    found = {f["probe"]: set(f["categories"]) for f in summary["findings"]}
    assert found == {
        "prompt_leak": {"direct", "repeat", "translate", "spell"},
        "exfiltration": {"markdown_image"},
        "prompt_injection": {"goal_hijack"},
    }
    leak = json.loads((out / "probes" / "prompt_leak.json").read_text())
    assert leak["owasp"] == ["LLM07:2025", "LLM02:2025"] and leak["transcripts"]
    sent = stats.total
    assert _run("--model", "level-0", *common) == 2  # an existing run needs --resume
    assert stats.total == sent
    assert _run("--model", "level-0", *common, "--resume") == 1
    assert stats.total == sent  # nothing re-sent, the preflight included (cached)
    assert json.loads((out / "summary.json").read_text())["findings"] == summary["findings"]


def test_scan_of_the_top_level_finds_nothing(llm_server: tuple[str, Any], tmp_path: Path) -> None:
    url, _ = llm_server
    out = tmp_path / "top"
    args = ["--base-url", url, "--model", "level-6", "--secret", "COCOLOCO", "--out", str(out)]
    assert _run(*args, "--probes", PROBES + ",jailbreak,indirect_injection") == 0
    assert json.loads((out / "summary.json").read_text())["findings"] == []


def test_scan_errors_and_usage(llm_server: tuple[str, Any], tmp_path: Path, capsys: Any) -> None:
    url, _ = llm_server
    assert _run("--base-url", url, "--model", "no-such-model", "--out", str(tmp_path / "a")) == 2
    assert "does not exist" in capsys.readouterr().err
    assert (
        _run("--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--out", str(tmp_path / "b"))
        == 2
    )
    assert (
        _run(
            "--base-url",
            url,
            "--model",
            "level-0",
            "--probes",
            "bogus",
            "--out",
            str(tmp_path / "c"),
        )
        == 4
    )
    assert _run("--model", "level-0", "--out", str(tmp_path / "d")) == 4

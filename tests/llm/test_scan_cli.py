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
    # the run directory of `advlab assess`: config and tasks, records, results, reports
    for name in ("run.json", "results.json", "report.html", "report.md", "report.sarif"):
        assert (out / name).is_file(), name
    assert (out / "junit.xml").read_text().count("<testcase ") == 1  # the scan's one gate
    results = json.loads((out / "results.json").read_text())
    assert results["goal"] == "llm" and results["verdict"] == "FAIL"
    assert len(list((out / "tasks").glob("*.json"))) == 3
    records = {r["task"]["attack"]: r for r in results["records"]}
    found = {
        name: set(r["result"]["llm"]["categories"])
        for name, r in records.items()
        if r["result"]["summary"]["hits"]
    }
    assert found == {
        "prompt_leak": {"direct", "repeat", "translate", "spell"},
        "exfiltration": {"markdown_image"},
        "prompt_injection": {"goal_hijack"},
    }
    leak = records["prompt_leak"]["result"]["llm"]
    assert leak["owasp"] == ["LLM07:2025", "LLM02:2025"] and leak["transcripts"]
    rules = json.loads((out / "report.sarif").read_text())["runs"][0]["tool"]["driver"]["rules"]
    assert "ADV-LLM07" in {r["id"] for r in rules}
    sent = stats.total
    assert _run("--model", "level-0", *common) == 4  # an existing run needs --resume
    assert stats.total == sent
    assert _run("--model", "level-0", *common, "--resume") == 1
    assert stats.total == sent  # nothing re-sent, the preflight included (cached)
    again = json.loads((out / "results.json").read_text())
    assert [r["result"] for r in again["records"]] == [r["result"] for r in results["records"]]


def test_scan_of_the_top_level_finds_nothing(llm_server: tuple[str, Any], tmp_path: Path) -> None:
    url, _ = llm_server
    out = tmp_path / "top"
    args = ["--base-url", url, "--model", "level-6", "--secret", "COCOLOCO", "--out", str(out)]
    probes = PROBES + ",jailbreak,indirect_injection,crescendo"
    assert _run(*args, "--probes", probes, "--max-prompts", "4") == 0
    results = json.loads((out / "results.json").read_text())
    assert results["verdict"] == "PASS" and len(results["records"]) == 6
    assert results["config"]["llm"]["max_prompts"] == 4
    assert all(r["result"]["summary"]["hits"] == 0 for r in results["records"])
    assert max(r["result"]["summary"]["attempts"] for r in results["records"]) == 4


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
    bad = ["--base-url", url, "--model", "level-0", "--max-prompts", "0"]
    assert _run(*bad, "--out", str(tmp_path / "e")) == 4

"""One SARIF builder: both logs validate, every rule has help, helpUri (a docs section that
exists) and security-severity, and findings point at real files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from advlab.assess import load_results, run_assessment
from advlab.report import render_text
from advlab.sarif import PROJECT_URL, assessment_sarif, scan_sarif
from advlab.serialization.corpus import P2, call, g, u
from advlab.serialization.findings import Severity
from advlab.serialization.scan import scan_paths

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def validate(log: dict[str, Any]) -> None:
    jsonschema.validate(log, SCHEMA, cls=jsonschema.Draft4Validator)


def anchors(doc: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings."""
    out = set()
    for line in doc.read_text().splitlines():
        m = re.match(r"#+\s+(.*)", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(slug)
    return out


def check_rules(log: dict[str, Any]) -> None:
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert rules
    for r in rules:
        assert r["help"]["text"] and r["shortDescription"]["text"]
        uri = r["helpUri"]
        assert uri.startswith(f"{PROJECT_URL}/blob/main/docs/"), uri
        doc, anchor = uri.split("/blob/main/")[1].split("#")
        assert (ROOT / doc).is_file() and anchor in anchors(ROOT / doc), uri
        assert 0.0 <= float(r["properties"]["security-severity"]) <= 10.0
    for res in log["runs"][0]["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]


@pytest.fixture()
def scan_report(tmp_path: Path) -> Any:
    evil = tmp_path / "evil.bin"
    evil.write_bytes(P2 + call(g("os", "system"), u("id")) + b".")
    frac = tmp_path / "frac.pkl"
    frac.write_bytes(P2 + call(g("fractions", "Fraction"), b"K\x01") + b".")
    return scan_paths([evil, frac])


def test_scanner_sarif_keeps_its_content_and_gains_help(scan_report: Any) -> None:
    log = scan_sarif(scan_report)
    validate(log)
    check_rules(log)
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "advlab-scan"
    findings = [f for fr in scan_report.files for f in fr.findings]
    assert [r["message"]["text"] for r in run["results"]] == [f.message for f in findings]
    levels = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning"}
    for res, f in zip(run["results"], findings, strict=True):
        assert res["ruleId"] == f.rule and res["properties"]["severity"] == f.severity.label
        assert res["level"] == levels.get(f.severity, res["level"])
    by_id = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    worst = max(findings, key=lambda f: f.severity)
    assert by_id[worst.rule]["properties"]["security-severity"] == "9.5" or (
        worst.severity < Severity.CRITICAL
    )
    from advlab.serialization.sarif import to_sarif

    assert to_sarif(scan_report) == log  # the scanner's entry point is the same builder


@pytest.fixture(scope="module")
def in_memory_run(tmp_path_factory: pytest.TempPathFactory, model_file: Path) -> Path:
    from assess_helpers import base_config

    out = tmp_path_factory.mktemp("mem") / "run"
    run_assessment(base_config(model_file, gates=["clean_accuracy >= 0.99"]), out)
    return out


def test_assessment_sarif_has_security_severity_and_points_at_a_real_file(
    in_memory_run: Path,
) -> None:
    log = json.loads((in_memory_run / "report.sarif").read_text())
    validate(log)
    check_rules(log)
    run = log["runs"][0]
    by_id = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert by_id["ADV-G001"]["properties"]["security-severity"] == "8.0"
    assert float(by_id["ADV-S008"]["properties"]["security-severity"]) >= 4.0  # invalidating
    assert "sanity.accept" in by_id["ADV-S008"]["help"]["text"]
    # an in-memory config: the findings point at run.json, which records it
    gate = next(r for r in run["results"] if r["ruleId"] == "ADV-G001")
    loc = gate["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "run.json", "uriBaseId": "RUN_DIR"}
    base = run["originalUriBaseIds"]["RUN_DIR"]["uri"]
    assert base == in_memory_run.resolve().as_uri() + "/"
    lines = (in_memory_run / "run.json").read_text().splitlines()
    assert "clean_accuracy >= 0.99" in lines[loc["region"]["startLine"] - 1]
    assert "advlab-assessment.yaml" not in json.dumps(log)
    # rendering again from the stored results gives the same log
    again = assessment_sarif(load_results(in_memory_run), base=in_memory_run)
    assert (
        json.loads(render_text(load_results(in_memory_run), "sarif", base=in_memory_run)) == again
    )

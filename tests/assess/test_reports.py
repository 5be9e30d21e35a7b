from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from advlab.assess import load_results, run_assessment
from advlab.report import render, render_text

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SECTIONS = [
    "threat-model",
    "gates",
    "robustness",
    "attacks",
    "gallery",
    "query-efficiency",
    "sanity",
    "environment",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, model_file: Path) -> Path:
    from assess_helpers import base_config

    root = tmp_path_factory.mktemp("rep")
    cfg = base_config(
        model_file,
        gates=["robust_accuracy(linf, 0.2) >= 0.95", "clean_accuracy >= 0.5"],
        attacks=[
            "fgsm",
            {"name": "pgd", "params": {"steps": 5}},
            {"name": "objective", "params": {"max_queries": 30, "optimiser": "random"}},
        ],
    )
    cfg_path = root / "assess.yaml"
    import yaml

    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    run_assessment(cfg_path, root / "run")
    return root / "run"


def test_sarif_validates_against_the_official_schema(run_dir: Path) -> None:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    log = json.loads((run_dir / "report.sarif").read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.validate(log, schema, cls=jsonschema.Draft4Validator)
    run = log["runs"][0]
    results = run["results"]
    gate = [r for r in results if r["ruleId"] == "ADV-G001"]
    assert len(gate) == 1 and "robust_accuracy(linf, 0.2) >= 0.95" in gate[0]["message"]["text"]
    loc = gate[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].endswith("assess.yaml")
    cfg_lines = (run_dir.parent / "assess.yaml").read_text().splitlines()
    assert "robust_accuracy(linf, 0.2)" in cfg_lines[loc["region"]["startLine"] - 1]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(rule_ids) == len(set(rule_ids)) and "ADV-S008" in rule_ids
    for r in results:
        assert rule_ids[r["ruleIndex"]] == r["ruleId"]
    # stable: rendering again gives the same ids and fingerprints
    again = json.loads(render_text(load_results(run_dir), "sarif", base=run_dir))
    assert [r["partialFingerprints"] for r in again["runs"][0]["results"]] == [
        r["partialFingerprints"] for r in results
    ]


def test_sarif_schema_rejects_a_broken_log() -> None:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"version": "2.1.0", "runs": [{"tool": {}}]}, schema, cls=jsonschema.Draft4Validator
        )


def test_junit_has_one_testcase_per_gate_with_measured_value(run_dir: Path) -> None:
    root = ET.parse(run_dir / "junit.xml").getroot()
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == [
        "robust_accuracy(linf, 0.2) >= 0.95",
        "clean_accuracy >= 0.5",
    ]
    res = load_results(run_dir)
    measured = res["gates"][0]["value"]
    failure = cases[0].find("failure")
    assert failure is not None and f"measured {measured:.4f}" in failure.get("message", "")
    assert cases[1].find("failure") is None
    assert root.get("failures") == "1" and root.get("tests") == "2"


def test_markdown_and_rerendering_never_rerun(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import advlab.assess.tasks as tasks

    def boom(*a: Any, **k: Any) -> None:
        raise AssertionError("a report must not run attacks")

    monkeypatch.setattr(tasks, "execute", boom)
    md = render(run_dir, "md", out=tmp_path / "r.md").read_text()
    for title in (
        "## Threat model",
        "## Gates",
        "## Attacks and costs",
        "## Sanity checks",
        "## Environment",
        "FAIL",
    ):
        assert title in md
    (run_dir / "results.json").rename(tmp_path / "results.bak")
    try:
        html = render(run_dir, "html", out=tmp_path / "r.html").read_text()
    finally:
        (tmp_path / "results.bak").rename(run_dir / "results.json")
    assert 'id="gates"' in html


def _chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    assert Path(CHROMIUM).exists(), (
        "chromium is required for the HTML report test: apt-get install -y chromium"
    )
    base = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={tmp / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=120)


def test_html_report_renders_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    html_path = run_dir / "report.html"
    html = html_path.read_text()
    # self-contained: CSP forbids every request, nothing is loaded from the network
    assert "default-src 'none'" in html and "<script" not in html.lower()
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.findall(r"url\(\s*['\"]?(?:https?:)?//", html, re.I)

    proc = _chromium(["--dump-dom", html_path.as_uri()], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    for sec in SECTIONS:
        assert f'id="{sec}"' in dom, sec
    assert "<svg" in dom and "data:image/png;base64," in dom
    log = proc.stderr
    assert not re.search(r"CONSOLE\(\d+\).*(error|Uncaught)", log, re.I), log[-2000:]
    assert "Refused to" not in log and "net::ERR" not in log, log[-2000:]

    shot = tmp_path / "shot.png"
    proc = _chromium(
        [f"--screenshot={shot}", "--window-size=1280,2000", html_path.as_uri()], tmp_path
    )
    assert proc.returncode == 0 and shot.stat().st_size > 10_000
    assert not re.search(r"CONSOLE\(\d+\)", proc.stderr), proc.stderr[-2000:]


def test_query_efficiency_and_gallery_content(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text()
    section = html.split('id="query-efficiency"')[1].split("</section>")[0]
    assert "<svg" in section and "objective" in section
    gallery = html.split('id="gallery"')[1].split("</section>")[0]
    assert gallery.count('alt="perturbation"') >= 1


def test_docs_screenshot_present() -> None:
    p = ROOT / "docs" / "report-screenshot.png"
    assert p.is_file() and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

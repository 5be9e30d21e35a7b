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
SECTIONS = [  # in the order of the page: the decision first, then the evidence
    "summary",
    "gates",
    "sanity",
    "threat-model",
    "robustness",
    "worst-case",
    "attacks",
    "gallery",
    "query-efficiency",
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
    uri = loc["artifactLocation"]["uri"]
    real = Path(uri.removeprefix("file://")) if uri.startswith("file://") else Path.cwd() / uri
    assert real.resolve() == (run_dir.parent / "assess.yaml").resolve()  # the file that ran
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["help"]["text"] and rule["helpUri"]
        assert float(rule["properties"]["security-severity"]) >= 0
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
    positions = [dom.find(f'id="{sec}"') for sec in SECTIONS]
    assert all(p >= 0 for p in positions), dict(zip(SECTIONS, positions, strict=True))
    assert positions == sorted(positions), "the decision comes before the evidence"
    assert 'id="verdict-reason"' in dom and 'id="sanity-counts"' in dom
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


def _section(html: str, sec: str) -> str:
    return html.split(f'id="{sec}"')[1].split("</section>")[0]


def test_query_efficiency_is_the_fraction_broken_within_n_queries(run_dir: Path) -> None:
    from advlab.report.view import build_view

    results = load_results(run_dir)
    view = build_view(results)
    assert view.query_curves
    for c in view.query_curves:
        rec = next(
            r
            for r in results["records"]
            if r["task"]["role"] == "suite"
            and r["task"]["attack"] == "objective"
            and f"eps={r['task']['eps']:g}" in c["attack"]
        )
        log = rec["result"]["queries_to_success"]
        pts = sorted(c["points"])
        ys = [y for _, y in pts]
        assert ys == sorted(ys) and ys[0] == 0.0  # non-decreasing, from nothing broken
        broken = [q for q in log if q is not None]
        assert ys[-1] == pytest.approx(len(broken) / len(log))
        for q, y in pts[1:]:  # each step: the fraction broken within q queries
            assert y <= sum(b <= q for b in broken) / len(log) + 1e-12
    section = _section((run_dir / "report.html").read_text(), "query-efficiency")
    assert "<svg" in section and "objective" in section
    assert "fraction broken" in section
    ticks = re.findall(r'text-anchor="middle">([0-9.,e+]+)</text>', section)
    assert len(ticks) >= 2, "the x axis has tick labels"


def test_summary_leads_with_the_decision_per_target(run_dir: Path) -> None:
    from advlab.report.view import build_view

    results = load_results(run_dir)
    view = build_view(results)
    [head] = view.headlines
    assert head.variant == "tiny" and sorted(head.worst) == [0.05, 0.2]
    gate = results["gates"][0]  # robust_accuracy(linf, 0.2): the per-point worst case
    assert head.worst[0.2] == pytest.approx(gate["per_target"]["tiny"])
    assert head.verdict == "FAIL"  # that gate fails for this target
    html = (run_dir / "report.html").read_text()
    summary = _section(html, "summary")
    assert "worst case @ 0.05" in summary and "worst case @ 0.2" in summary
    assert f"{head.clean:.3f}" in summary and "v-FAIL" in summary
    md = (run_dir / "report.md").read_text()
    assert md.index("## Summary") < md.index("## Gates") < md.index("## Sanity checks")
    assert md.index("## Sanity checks") < md.index("## Threat model")


def test_attacks_are_grouped_by_target_and_eps(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text()
    attacks = _section(html, "attacks")
    groups = re.findall(r'<tr class="group"><th colspan="\d+">([^<]+)</th>', attacks)
    assert groups == ["tiny @ eps 0.05", "tiny @ eps 0.2"]
    worst = _section(html, "robustness").split('id="worst-case"')[1]
    assert "worst case" in worst and "eps 0.2" in worst


def test_gallery_shows_every_eps(run_dir: Path) -> None:
    gallery = _section((run_dir / "report.html").read_text(), "gallery")
    assert gallery.count('alt="perturbation"') >= 1
    for eps in (0.05, 0.2):
        assert f"(eps {eps:g})" in gallery


def test_docs_screenshot_present() -> None:
    p = ROOT / "docs" / "images" / "report.png"
    assert p.is_file() and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "images/report.png" in (ROOT / "docs" / "assessments.md").read_text()


def test_query_curve_of_an_attack_that_broke_nothing_is_flat_at_zero() -> None:
    from advlab.report import svg
    from advlab.report.view import _query_curves

    rec = {
        "status": "ok",
        "task": {
            "kind": "evasion",
            "role": "suite",
            "requires": "scores",
            "variant": "t",
            "attack": "objective",
            "eps": 0.1,
        },  # fmt: skip
        "result": {"queries_to_success": [None, None, None]},
    }
    curves, missing = _query_curves([rec])
    assert not missing and len(curves) == 1
    assert curves[0]["points"] == [(1.0, 0.0)]
    chart = svg.Chart("t", "queries", "fraction broken", [svg.Series("o", curves[0]["points"], markers=False, step=True)], x_log=True)  # fmt: skip
    assert "<svg" in svg.render(chart)

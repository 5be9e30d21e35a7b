from __future__ import annotations

import json
from pathlib import Path

import pytest

import advlab.assess.demo as demo
from advlab.assess import load_results
from advlab.assess.config import load_config
from advlab.report.view import build_view


def test_demo_config_uses_registered_attacks() -> None:
    cfg = demo.demo_config(quick=True)
    assert [t.name for t in cfg.targets] == ["standard", "adv-trained"]
    assert cfg.targets[1].train["adversarial"] == "pgd"
    names = [a.name for a in cfg.attacks or []]
    assert names[:2] == ["fgsm", "pgd"] and cfg.gates


def test_run_demo_writes_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the real demo trains for longer; the pipeline is the same
    monkeypatch.setattr(demo, "STANDARD_TRAIN", {"epochs": 1})
    monkeypatch.setattr(
        demo, "ADVERSARIAL_TRAIN", {"epochs": 1, "adversarial": "pgd", "adv_steps": 1}
    )
    real = demo.demo_config

    def small(**kw: object) -> object:
        cfg = real(**kw)  # type: ignore[arg-type]
        cfg.data.n = 12
        cfg.attacks = cfg.attacks[:2] if cfg.attacks else None
        cfg.sanity.extra_attacks = False
        return cfg

    monkeypatch.setattr(demo, "demo_config", small)
    report = demo.run_demo(tmp_path / "demo", quick=True)
    assert report.name == "report.html" and report.is_file()
    html = report.read_text()
    assert 'id="gates"' in html and "adv-trained" in html
    again = demo.run_demo(tmp_path / "demo", quick=True)  # resumes: nothing re-run
    assert again == report
    # the config that ran is a real file in the run directory, and SARIF points at it
    run_dir = report.parent
    cfg_file = run_dir / demo.CONFIG_NAME
    assert "INCONCLUSIVE by design" in cfg_file.read_text()
    assert load_config(cfg_file).name == "demo-digits"
    sarif = json.loads((run_dir / "report.sarif").read_text())
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
        for loc in r["locations"]
    }
    assert uris == {demo.CONFIG_NAME}
    assert sarif["runs"][0]["originalUriBaseIds"]["RUN_DIR"]["uri"].endswith(f"{run_dir.name}/")
    # the masked bit-depth variant is never an unqualified PASS
    res = load_results(run_dir)
    masked = [w for w in res["sanity"] if w["variant"] == "standard+bit-depth"]
    assert any(w["check"] == "zero-gradients" and w["blocking"] for w in masked)
    failed = any(not g["passed"] for g in res["gates"])
    assert res["verdict"] == ("FAIL" if failed else "INCONCLUSIVE")
    head = {h.variant: h for h in build_view(res).headlines}
    assert head["standard+bit-depth"].verdict in ("INCONCLUSIVE", "FAIL")
    assert any("zero-gradients" in f for f in head["standard+bit-depth"].flags)

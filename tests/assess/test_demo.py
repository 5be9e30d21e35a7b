from __future__ import annotations

from pathlib import Path

import pytest

import advlab.assess.demo as demo


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

"""``advlab demo`` exits non-zero when every task failed (it used to print a table and exit 0)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "robustness"))

from robustness_helpers import run_in_process  # noqa: E402


def test_demo_with_an_unusable_device_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import advlab.assess.demo as demo

    monkeypatch.setattr(demo, "STANDARD_TRAIN", {"epochs": 1})
    monkeypatch.setattr(
        demo, "ADVERSARIAL_TRAIN", {"epochs": 1, "adversarial": "pgd", "adv_steps": 1}
    )
    real = demo.demo_config

    def small(**kw: object) -> object:
        cfg = real(**kw)  # type: ignore[arg-type]
        cfg.data.n = 8
        cfg.attacks = cfg.attacks[:1] if cfg.attacks else None
        cfg.defenses = []
        cfg.sanity.enabled = False
        cfg.executor.name = "serial"
        return cfg

    monkeypatch.setattr(demo, "demo_config", small)
    res = run_in_process(["demo", "--device", "cuda:99", "--quick", "-q", "--out", "d"], tmp_path)
    assert res.code == 2, res.stderr
    assert "every demo task failed" in res.stderr

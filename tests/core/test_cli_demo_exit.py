"""``advlab demo`` exits non-zero when every task failed (it used to print a table and exit 0)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "robustness"))

from robustness_helpers import run_in_process  # noqa: E402


def test_demo_with_an_unusable_device_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import advlab.assess.demo as demo
    from advlab.assess.config import parse_config

    def one_task(*, device: str = "auto", **_: object) -> object:
        """The demo's pipeline on one tiny target and one attack, on the requested device."""
        target = {"kind": "reference", "name": "standard", "train": {"epochs": 1}}
        return parse_config(
            {
                "targets": [{**target, "device": device}],
                "data": {"n": 8},
                "attacks": ["fgsm"],
                "sanity": {"enabled": False},
            }
        )

    monkeypatch.setattr(demo, "demo_config", one_task)
    res = run_in_process(["demo", "--device", "cuda:99", "--quick", "-q", "--out", "d"], tmp_path)
    assert res.code == 2, res.stderr
    assert "every demo task failed" in res.stderr

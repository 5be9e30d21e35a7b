"""Assessment configs declare domain constraints; every task's successes are verified feasible."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from advlab.assess.config import parse_config
from advlab.errors import ConfigError

HERE = Path(__file__).parent


def config(constraints: Any, attacks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "credit",
        "targets": [
            {
                "kind": "python",
                "name": "linear",
                "entry": "credit_entry:credit_linear",
                "pythonpath": str(HERE),
            }
        ],
        "data": {"dataset": "credit", "n": 16, "seed": 0},
        "threat_model": {
            "perturbation": {"norm": "linf", "eps": [0.3]},
            "constraints": constraints,
        },
        "attacks": attacks,
        "sanity": {"enabled": False},
        "reports": [],
    }


def test_dataset_constraints_in_an_assessment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from advlab.assess.runner import run_assessment

    monkeypatch.setenv("ADVLAB_CACHE", str(tmp_path / "cache"))
    cfg = config(
        "dataset",
        [{"name": "pgd", "params": {"steps": 10}}, {"name": "cpgd", "params": {"steps": 10}}],
    )
    out = run_assessment(cfg, tmp_path / "run", executor="serial")
    records = [json.loads(p.read_text()) for p in sorted((out.run_dir / "tasks").glob("*.json"))]
    ok = [r for r in records if r["status"] == "ok"]
    assert {r["task"]["attack"] for r in ok} >= {"pgd", "cpgd"}
    for r in ok:
        assert r["verified"]["infeasible"] == 0
        summary = r["result"]["summary"]
        assert summary["feasible_rate"] >= 0 and "rejected" in summary
    assert any(r["result"]["summary"]["success_rate"] > 0 for r in ok)


def test_constraints_section_is_validated() -> None:
    good = {
        "features": [{"name": "a", "lower": 0, "upper": 1}, {"name": "b", "lower": 0, "upper": 1}],
        "relations": ["a <= b"],
        "scaled": True,
    }
    assert parse_config(config(good, [{"name": "pgd"}])).threat_model.constraints == good
    bad = {**good, "relations": ["a <= __import__('os')"]}
    with pytest.raises(ConfigError, match="unexpected"):
        parse_config(config(bad, [{"name": "pgd"}]))
    with pytest.raises(ConfigError):
        parse_config(config("everything", [{"name": "pgd"}]))

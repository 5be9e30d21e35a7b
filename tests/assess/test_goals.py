"""Goals other than evasion run end to end through the assessment runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advlab.assess import load_results, run_assessment


def test_membership_inference_goal_runs(make_config: Any, tmp_path: Path) -> None:
    cfg = make_config(
        threat_model={"goal": "inference", "access": "scores"},
        attacks=[{"name": "loss_threshold"}, {"name": "lira"}],
        gates=[],
    )
    run_assessment(cfg, tmp_path / "inf")
    recs = {r["task"]["attack"]: r for r in load_results(tmp_path / "inf")["records"]}
    ok = recs["loss_threshold"]
    assert ok["status"] == "ok"
    s = ok["result"]["summary"]
    # balanced members (training points) and non-members (held-out points) from the data
    assert s["n_members"] == s["n_nonmembers"] > 0
    assert 0.0 <= s["auc"] <= 1.0
    # an attack that needs reference models says so instead of failing silently
    assert recs["lira"]["status"] == "error"
    assert "reference models" in recs["lira"]["reason"]

"""Goals other than evasion run end to end through the assessment runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advlab.assess import load_results, run_assessment


def test_membership_inference_goal_runs(make_config: Any, tmp_path: Path) -> None:
    cfg = make_config(
        threat_model={"goal": "inference", "access": "scores"},
        attacks=[{"name": "loss_threshold"}],
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
    # attacks with reference models: tests/assess/test_privacy_audit.py


def test_poisoning_goal_retrains_victims_from_the_model_files_recipe(
    make_config: Any, model_file: Path, tmp_path: Path
) -> None:
    import json

    from advlab.models.io import meta_path

    # a model file whose metadata says how it was trained: the runner retrains it
    meta = meta_path(model_file)
    recipe = tmp_path / "recipe.safetensors"
    recipe.write_bytes(model_file.read_bytes())
    m = json.loads(meta.read_text())
    m["train"] = {"epochs": 8, "seed": 0, "unknown_field": 1}  # unknown keys are ignored
    meta_path(recipe).write_text(json.dumps(m))
    cfg = make_config(
        targets=[{"kind": "model", "name": "tiny", "path": str(recipe), "device": "cpu"}],
        threat_model={"goal": "poisoning", "access": "labels"},
        attacks=[{"name": "badnets", "params": {"budget": 0.1, "target_class": 0}}],
        gates=[
            "metric(success_mean, attack=badnets) <= 0.5",  # a CI gate on poisoning success
            "metric(clean_drop_mean, attack=badnets) <= 0.1",
        ],
    )
    run_assessment(cfg, tmp_path / "poison")
    gates = load_results(tmp_path / "poison")["gates"]
    assert [g["passed"] for g in gates] == [False, True]
    (rec,) = load_results(tmp_path / "poison")["records"]
    assert rec["status"] == "ok", rec
    s = rec["result"]["summary"]
    from advlab.data import load_dataset

    n_train = len(load_dataset("digits", seed=0).x_train)
    assert s["n_poison"] == round(0.1 * n_train)  # the training split was poisoned
    assert s["victims"] == 1
    # a 10% BadNets backdoor works on the retrained victim; the clean one ignores the trigger
    assert s["success_mean"] > 0.8 > s["baseline_success_mean"]
    assert abs(s["clean_drop_mean"]) < 0.1
    assert rec["result"]["victims"]["victim"]["spec"]["arch"] == "mlp"
    report = (tmp_path / "poison" / "report.md").read_text()
    assert "success_mean=" in report and "| Perturbation |" not in report


def test_poisoning_goal_without_a_recipe_records_the_poisoned_set(
    make_config: Any, model_file: Path, tmp_path: Path
) -> None:
    cfg = make_config(
        threat_model={"goal": "poisoning", "access": "labels"},
        attacks=[{"name": "badnets", "params": {"budget": 0.05}}],
        gates=[],
    )
    run_assessment(cfg, tmp_path / "p2")
    (rec,) = load_results(tmp_path / "p2")["records"]
    assert rec["status"] == "ok", rec
    # the tiny model file's metadata holds its architecture: default TrainConfig victims
    assert rec["result"]["summary"]["victims"] == 1

"""Privacy audits in assessments: membership inference with reference models end to end.

A tiny digits MLP (a ``reference`` target, so its training recipe is known) is audited by the
loss threshold, LiRA, RMIA and Shokri with 6 reference models trained like it; the report's
membership-inference section, the DP bound of a declared epsilon and the ``tpr_at_fpr`` gate
are checked against the records.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from advlab.assess import load_results, run_assessment
from advlab.assess.config import parse_config
from advlab.assess.task_inference import InferenceKind, audit_pool
from advlab.parallel import SerialExecutor

N_REFS = 6
EPSILON = 0.5
TARGET = {
    "kind": "reference",
    "name": "mlp",
    "dataset": "digits",
    "arch": "mlp",
    "device": "cpu",
    "train": {"epochs": 6, "lr": 0.01},
}


def audit_config(**overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "name": "audit",
        "targets": [dict(TARGET)],
        "data": {"dataset": "digits", "n": 300, "seed": 0},
        "threat_model": {"goal": "inference", "access": "scores", "knowledge": "black-box"},
        "attacks": [
            "loss_threshold",
            "lira",
            "rmia",
            {"name": "shokri", "params": {"attack_model": "logreg"}},
        ],
        "privacy": {"reference_models": N_REFS, "dp_epsilon": EPSILON, "dp_references": False},
        "gates": [
            "tpr_at_fpr(0.1) <= 1.0",
            "tpr_at_fpr(0.01, attack=lira) <= 0.0",
            "tpr_at_fpr(0.05) <= 0.5",
        ],
        "reports": ["html", "md", "json", "junit"],
    }
    cfg.update(overrides)
    return cfg


def ref_files(cache: Path) -> dict[str, float]:
    return {p.name: p.stat().st_mtime_ns for p in (cache / "mia-references").glob("ref-*.npy")}


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run directory, cache) of the tiny audit; the cache is this module's own."""
    cache = tmp_path_factory.mktemp("mia-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("ADVLAB_CACHE", str(cache))
    try:
        run_dir = tmp_path_factory.mktemp("audit") / "run"
        run_assessment(audit_config(), run_dir)
    finally:
        mp.undo()
    return run_dir, cache


def records(run_dir: Path) -> dict[str, dict[str, Any]]:
    return {r["task"]["attack"]: r for r in load_results(run_dir)["records"]}


def test_every_attack_runs_with_reference_models_trained_like_the_target(
    audit: tuple[Path, Path],
) -> None:
    run_dir, cache = audit
    recs = records(run_dir)
    assert {k: r["status"] for k, r in recs.items()} == dict.fromkeys(
        ("loss_threshold", "lira", "rmia", "shokri"), "ok"
    )
    for name, r in recs.items():
        s, p = r["result"]["summary"], r["result"]["privacy"]
        assert s["n_members"] == s["n_nonmembers"] == 300
        assert s["reference_models"] == (0 if name == "loss_threshold" else N_REFS)
        assert 0 <= s["empirical_epsilon"] < math.inf
        # the ROC is monotone and spans the plot
        roc = np.asarray(p["roc"])
        assert (np.diff(roc[:, 0]) >= 0).all() and (np.diff(roc[:, 1]) >= 0).all()
        assert roc[-1].tolist() == [1.0, 1.0]
    # LiRA's rule: a global variance below 64 reference models
    assert recs["lira"]["result"]["privacy"]["variance_mode"] == "global"
    # one cached logits file per reference model, shared by every attack task
    assert len(ref_files(cache)) == N_REFS


def test_reference_models_resume_and_go_through_the_executor(
    audit: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir, cache = audit
    monkeypatch.setenv("ADVLAB_CACHE", str(cache))
    before = ref_files(cache)
    lost = sorted(before)[:2]
    for name in lost:  # an interrupted run: two models never finished
        (cache / "mia-references" / name).unlink()

    class Recording(SerialExecutor):
        calls: list[int] = []

        def map(self, fn: Any, tasks: Any, *, description: str = "") -> Any:
            self.calls.append(len(tasks))
            return super().map(fn, tasks, description=description)

    cfg = parse_config(audit_config(attacks=["lira"], gates=[]))
    out = run_assessment(cfg, tmp_path / "again", executor=Recording())
    after = ref_files(cache)
    assert sorted(after) == sorted(before)  # same content hashes: the same models
    assert all(after[k] == before[k] for k in before if k not in lost)  # kept, not retrained
    assert all(after[k] != before.get(k) for k in lost)
    assert Recording.calls[0] == N_REFS  # the reference models, then the one attack task
    # the same models give the same scores: LiRA's metrics are identical
    again = records(out.run_dir)["lira"]["result"]["metrics"]
    assert again == records(run_dir)["lira"]["result"]["metrics"]


def test_tpr_gate_reads_the_strongest_attack(audit: tuple[Path, Path]) -> None:
    run_dir, _ = audit
    res = load_results(run_dir)
    recs = records(run_dir)
    gates = {g["gate"]: g for g in res["gates"]}
    strongest = max(r["result"]["summary"]["tpr_at_fpr"]["10%"] for r in recs.values())
    g = gates["tpr_at_fpr(0.1) <= 1.0"]
    assert g["passed"] and g["value"] == pytest.approx(strongest)
    lira = recs["lira"]["result"]["summary"]["tpr_at_fpr"]["1%"]
    g = gates["tpr_at_fpr(0.01, attack=lira) <= 0.0"]
    assert g["value"] == pytest.approx(lira) and g["passed"] == (lira <= 0.0)
    # an FPR the audit did not compute is an error naming the fix
    g = gates["tpr_at_fpr(0.05) <= 0.5"]
    assert g["error"] and not g["passed"] and "privacy.fprs" in g["detail"]
    assert res["verdict"] == "FAIL"


def test_report_section_with_dp_bound(audit: tuple[Path, Path]) -> None:
    from advlab.privacy.metrics import dp_tpr_bound

    run_dir, _ = audit
    recs = records(run_dir)
    md = (run_dir / "report.md").read_text()
    section = md.split("## Membership inference")[1].split("\n## ")[0]
    for name in recs:
        assert f"| {name} |" in section
    lira = recs["lira"]["result"]
    tpr, ci = lira["metrics"]["tpr_at_fpr"]["1%"], lira["metrics"]["tpr_ci"]["1%"]
    assert f"{tpr:.4f} [{ci[0]:.4f}, {ci[1]:.4f}]" in section
    assert f"{N_REFS} (global variance)" in section
    bound = dp_tpr_bound(0.01, EPSILON, 1e-5)
    assert f"{bound:.4g} at 1%" in section
    # every attack is checked against the bound, consistently with its own numbers
    for r in recs.values():
        p = r["result"]["privacy"]
        over = [k for k, b in p["dp_bound"].items() if r["result"]["metrics"]["tpr_at_fpr"][k] > b]
        assert sorted(over) == p["dp_bound_exceeded"]
        assert p["dp_violated"] == (p["empirical_epsilon"] > EPSILON)
    html = (run_dir / "report.html").read_text()
    sec = html.split('id="privacy"')[1].split("</section>")[0]
    assert sec.count('<svg class="roc"') == 1
    assert sec.count("<polyline") == len(recs) + 2  # attacks, the diagonal, the DP bound
    assert "DP bound eps=0.5" in sec


def test_unknown_training_recipe_is_a_clear_task_error(make_config: Any, tmp_path: Path) -> None:
    here = Path(__file__).parent
    cfg = make_config(
        targets=[
            {
                "kind": "python",
                "name": "py",
                "entry": "assess_helpers:digits_target",
                "pythonpath": str(here),
            }
        ],
        threat_model={"goal": "inference", "access": "scores"},
        attacks=["lira"],
        gates=[],
    )
    run_assessment(cfg, tmp_path / "run")
    rec = records(tmp_path / "run")["lira"]
    assert rec["status"] == "error"
    assert "training recipe is unknown" in rec["reason"] and "privacy.trainer" in rec["reason"]


def test_reference_target_on_other_data_is_refused(tmp_path: Path) -> None:
    cfg = audit_config(data={"dataset": "digits", "n": 50, "seed": 3}, attacks=["lira"], gates=[])
    run_assessment(cfg, tmp_path / "run")
    rec = records(tmp_path / "run")["lira"]
    assert rec["status"] == "error" and "members would be wrong" in rec["reason"]


def test_pool_is_balanced_and_disjoint() -> None:
    from advlab.assess.build import load_points

    cfg = parse_config(audit_config())
    pts = load_points(cfg, os.getcwd())
    pool = audit_pool(pts, cfg)
    n_tr = len(pts.x_train)
    mem, non = pool.idx[pool.members], pool.idx[~pool.members]
    assert len(mem) == len(non) == 300
    assert (mem < n_tr).all() and (non >= n_tr).all()  # training points vs held-out points
    assert len(pool.x) == n_tr + len(pts.x_test)


def test_prepare_skips_attacks_without_reference_models(tmp_path: Path) -> None:
    class Never(SerialExecutor):
        def map(self, fn: Any, tasks: Any, *, description: str = "") -> Any:
            raise AssertionError("no reference model is needed")

    cfg = parse_config(audit_config(attacks=["loss_threshold"]))
    kind = InferenceKind()
    kind.prepare(cfg, str(tmp_path), kind.plan(cfg, {}), Never())


def test_html_section_id_is_unique(audit: tuple[Path, Path]) -> None:
    html = (audit[0] / "report.html").read_text()
    assert len(re.findall(r'id="privacy"', html)) == 1


def test_privacy_section_renders_in_headless_chromium(
    audit: tuple[Path, Path], tmp_path: Path
) -> None:
    from test_reports import _chromium

    html_path = audit[0] / "report.html"
    proc = _chromium(["--dump-dom", html_path.as_uri()], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    order = [dom.find(f'id="{s}"') for s in ("gates", "threat-model", "privacy", "environment")]
    assert all(p >= 0 for p in order) and order == sorted(order)
    sec = dom.split('id="privacy"')[1].split("</section>")[0]
    assert '<svg class="roc"' in sec and "<table" in sec and "dp-bound" in sec
    assert not re.search(r"CONSOLE\(\d+\).*(error|Uncaught)", proc.stderr, re.I)


def test_example_and_documented_configs_validate() -> None:
    import yaml

    from advlab.assess.config import load_config
    from advlab.assess.runner import check_config

    root = Path(__file__).resolve().parents[2]
    cfg = load_config(root / "examples" / "privacy-audit.yaml")
    check_config(cfg)
    assert cfg.threat_model.goal == "inference" and cfg.privacy.reference_models == 16
    doc = (root / "docs" / "assessments.md").read_text()
    snippet = doc.split("## Privacy audits (membership inference)")[1].split("```yaml")[1]
    documented = parse_config(yaml.safe_load(snippet.split("```")[0]))
    check_config(documented)
    assert documented.privacy.dp_epsilon == 3.0 and documented.gates


def test_tpr_gate_grammar() -> None:
    from advlab.assess.gates import parse_gate
    from advlab.errors import ConfigError

    g = parse_gate("tpr_at_fpr(0.001, attack=lira) <= 1%")
    assert g.args == {"fpr": 0.001, "attack": "lira"} and g.threshold == 0.01
    for bad in ("tpr_at_fpr(1.5) <= 0.1", "tpr_at_fpr(lira) <= 0.1", "tpr_at_fpr <= 0.1"):
        with pytest.raises(ConfigError):
            parse_gate(bad)


def test_validate_reports_what_the_audit_cannot_do(tmp_path: Path) -> None:
    from advlab.assess.preflight import preflight
    from advlab.errors import ConfigError

    here = Path(__file__).parent
    py = {"kind": "python", "name": "py", "entry": "assess_helpers:digits_target"}
    py["pythonpath"] = str(here)
    cfg = audit_config(
        targets=[dict(TARGET), py],
        data={"dataset": "digits", "n": 50, "seed": 1},
        gates=["tpr_at_fpr(0.05) <= 0.1", "tpr_at_fpr(0.01) <= 0.1"],
    )
    with pytest.raises(ConfigError) as err:
        preflight(parse_config(cfg), tmp_path)
    msg = str(err.value)
    assert "targets.1: lira, rmia, shokri need(s) reference models" in msg
    assert "targets.0" not in msg  # a reference target's recipe is known
    assert "members would be wrong" in msg  # split seed 1, target trained on split seed 0
    assert "gates.0: FPR 0.05 is not in privacy.fprs" in msg and "gates.1" not in msg
    preflight(parse_config(audit_config(gates=["tpr_at_fpr(0.001) <= 0.01"])), tmp_path)

"""The run directory is a one-way record: the runner writes it, reports only read it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from advlab.assess import load_results, run_assessment
from advlab.assess.cli import main as cli_main
from advlab.assess.rundir import Role, load_run
from advlab.report import FORMATS, render, render_text

LEGACY = Path(__file__).parent / "data" / "legacy-v1"


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and modification time (ns)."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def render_everything(run: Path, elsewhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every format through the library and the CLI (stdout, --out, --out-dir)."""
    results = load_results(run)
    for fmt in FORMATS:
        assert render_text(results, fmt, base=run)
        render(run, fmt, out=elsewhere / f"lib-{FORMATS[fmt]}")
        assert cli_main(["report", str(run), "-f", fmt]) in (0, 1, 2)
        out = ["report", str(run), "-f", fmt, "--out", str(elsewhere / f"cli-{FORMATS[fmt]}")]
        assert cli_main(out) in (0, 1, 2)
    every = [x for f in FORMATS for x in ("-f", f)]
    assert cli_main(["report", str(run), *every, "--out-dir", str(elsewhere / "all")]) in (0, 1, 2)
    capsys.readouterr()


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory: pytest.TempPathFactory, model_file: Path) -> Path:
    from assess_helpers import base_config

    out = tmp_path_factory.mktemp("fresh") / "run"
    cfg = base_config(
        model_file,
        attacks=[
            "fgsm",
            {"name": "objective", "params": {"max_queries": 20, "optimiser": "random"}},
        ],
        reports=["html", "md", "json", "junit", "sarif"],
    )
    run_assessment(cfg, out)
    return out


@pytest.fixture()
def legacy(tmp_path: Path) -> Path:
    """A copy of the version-1 fixture (mtimes kept), so a failing test cannot damage it."""
    dst = tmp_path / "legacy"
    shutil.copytree(LEGACY, dst)
    return dst


def test_report_leaves_a_fresh_run_directory_untouched(
    fresh_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(fresh_run)
    assert "results.json" in before and "report.html" in before
    render_everything(fresh_run, tmp_path, capsys)
    assert snapshot(fresh_run) == before
    assert (tmp_path / "all" / "report.md").read_text().startswith("# advlab assessment")


@pytest.mark.parametrize("name", ["evasion-run", "inference-run"])
def test_report_leaves_an_old_run_directory_untouched(
    legacy: Path, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = legacy / name
    before = snapshot(run)
    assert json.loads((run / "results.json").read_text())["schema_version"] == 1
    render_everything(run, tmp_path / "out", capsys)
    assert snapshot(run) == before


def test_an_old_run_directory_is_read_with_typed_roles(legacy: Path) -> None:
    res = load_run(legacy / "evasion-run")
    assert res.schema_version == 1 and res.complete
    stored = json.loads((legacy / "evasion-run" / "results.json").read_text())
    # verdicts are the ones the old runner recorded, not recomputed
    assert [g.to_dict()["passed"] for g in res.gates] == [g["passed"] for g in stored["gates"]]
    assert [w.check for w in res.sanity] == [w["check"] for w in stored["sanity"]]
    assert res.sanity_status == "warnings"
    refs = {r.task.reference.value for r in res.records if r.task.role is Role.SANITY}
    assert refs == {"fgsm", "pgd-short", "pgd-long", "pgd-huge"}
    # the objective attack's query log moved into its result
    obj = [r for r in res.records if r.task.attack_name == "objective" and r.status == "ok"]
    assert obj and all(isinstance(r.result["queries_to_success"], list) for r in obj)
    html = render_text(res.to_dict(), "html")
    assert 'id="query-efficiency"' in html and "legacy-evasion" in html


def test_a_fresh_run_has_schema_3_and_typed_records(fresh_run: Path) -> None:
    res = load_run(fresh_run)
    assert res.schema_version == 3 and res.sanity_status in ("passed", "warnings")
    rec = json.loads(next((fresh_run / "tasks").glob("*.json")).read_text())
    assert rec["schema_version"] == 3 and rec["task"]["role"] in ("suite", "probe")
    obj = [r for r in res.records if r.task.attack_name == "objective"]
    assert obj and all("queries_to_success" in r.result for r in obj)
    assert not any("query_log" in r.to_dict() for r in res.records)


def test_unfinished_run_is_rendered_without_verdicts(
    fresh_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    shutil.copytree(fresh_run, run)
    (run / "results.json").unlink()
    before = snapshot(run)
    res = load_results(run)
    assert res["complete"] is False and res["gates"] == []
    assert res["counts"]["ok"] == len(list((run / "tasks").glob("*.json")))
    assert "did not finish" in res["problems"][0]
    assert cli_main(["report", str(run), "-f", "md"]) == 2
    md = capsys.readouterr().out
    assert "INCOMPLETE" in md and "Sanity checks were not evaluated" in md
    assert "All sanity checks passed" not in md
    assert snapshot(run) == before


@pytest.mark.parametrize("bad", ["[1, 2]", '"text"', "{not json", '{"schema": "other"}'])
def test_unusable_results_file_is_named_and_the_rest_is_kept(
    fresh_run: Path, tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    shutil.copytree(fresh_run, run)
    (run / "results.json").write_text(bad)
    res = load_results(run)
    assert any("results.json: unusable" in p for p in res["problems"])
    assert res["counts"]["ok"] > 0 and res["complete"] is False
    assert cli_main(["report", str(run), "-f", "html"]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "<html" in captured.out


def test_malformed_records_are_named_and_left_out(fresh_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(fresh_run, run)
    data = json.loads((run / "results.json").read_text())
    del data["records"][0]["task"]
    data["records"][1] = "not a record"
    (run / "results.json").write_text(json.dumps(data))
    res = load_results(run)
    assert len(res["records"]) == len(data["records"]) - 2
    named = [p for p in res["problems"] if p.startswith("results.json: record")]
    assert len(named) == 2 and "task" in named[0] and "got str" in named[1]
    # a task file missing its status: named, the others are read
    task_file = next((run / "tasks").glob("*.json"))
    rec = json.loads(task_file.read_text())
    del rec["status"]
    task_file.write_text(json.dumps(rec))
    (run / "results.json").unlink()
    res = load_results(run)
    assert any(task_file.name in p and "status" in p for p in res["problems"])
    assert res["counts"]["ok"] == len(list((run / "tasks").glob("*.json"))) - 1


def test_disabled_sanity_checks_are_not_reported_as_passed(
    model_file: Path, tmp_path: Path
) -> None:
    from assess_helpers import base_config

    cfg = base_config(model_file, sanity={"enabled": False}, reports=["html", "md"])
    run_assessment(cfg, tmp_path / "run")
    res = load_results(tmp_path / "run")
    assert res["sanity_status"] == "disabled" and res["sanity"] == []
    for name in ("report.md", "report.html"):
        text = (tmp_path / "run" / name).read_text()
        assert "All sanity checks passed" not in text
        assert "Sanity checks were not run" in text


def _scores_only_target() -> Any:
    """Entry point: the tiny digits model behind a scores-only wrapper."""
    from assess_helpers import digits_target

    from advlab.targets.base import ScoresOnly

    return ScoresOnly(digits_target("plain"))


def test_http_target_plans_only_the_checks_its_access_allows(
    model_file: Path, tmp_path: Path
) -> None:
    from assess_helpers import base_config

    from advlab.models import load_bundle
    from advlab.serve import background_server, create_app

    app = create_app(load_bundle(model_file))
    with background_server(app) as url:
        cfg = base_config(
            model_file,
            targets=[
                {
                    "kind": "http",
                    "name": "api",
                    "url": f"{url}/predict",
                    "input_shape": [1, 8, 8],
                    "num_classes": 10,
                    "api_key_env": "ADVLAB_TEST_UNSET_KEY",
                }
            ],
            threat_model={
                "access": "scores",
                "knowledge": "black-box",
                "perturbation": {"norm": "linf", "eps": [0.2]},
            },
            attacks=[{"name": "objective", "params": {"max_queries": 10}}],
            gates=[],
            data={"dataset": "digits", "n": 6, "seed": 0},
            sanity={"enabled": True, "extra_attacks": True},
            reports=["md"],
        )
        outcome = run_assessment(cfg, tmp_path / "run")
    res = outcome.results
    roles = [r["task"]["role"] for r in res["records"]]
    assert "sanity" not in roles and "probe" in roles
    assert outcome.exit_code == 0, res["problems"]
    na = {n["check"] for n in res["sanity_not_applicable"]}
    assert {"zero-gradients", "fgsm-stronger", "not-converged"} <= na
    md = (tmp_path / "run" / "report.md").read_text()
    assert "Not applicable to this target" in md and "no gradients" in md


def test_reference_attacks_on_a_target_without_gradients_are_not_applicable(
    model_file: Path, tmp_path: Path
) -> None:
    """A Python target's access is known only once built: its reference tasks are skipped
    as not applicable instead of failing the run."""
    from assess_helpers import base_config

    here = str(Path(__file__).parent)
    cfg = base_config(
        model_file,
        targets=[
            {
                "kind": "python",
                "name": "py",
                "entry": "test_rundir:_scores_only_target",
                "pythonpath": here,
            }
        ],
        threat_model={"access": "scores", "perturbation": {"norm": "linf", "eps": [0.2]}},
        attacks=[{"name": "objective", "params": {"max_queries": 10}}],
        gates=[],
        data={"dataset": "digits", "n": 6, "seed": 0},
        sanity={"enabled": True, "extra_attacks": True},
        reports=[],
    )
    outcome = run_assessment(cfg, tmp_path / "run")
    sanity = [r for r in outcome.results["records"] if r["task"]["role"] == "sanity"]
    assert sanity and all(r["status"] == "skipped" for r in sanity)
    assert all(r["reason"].startswith("not applicable") for r in sanity)
    assert not any(w["check"] == "attack-skipped" for w in outcome.results["sanity"])
    assert outcome.exit_code == 0


def test_immutable_features_are_a_constraint_of_the_projection(
    model_file: Path, tmp_path: Path
) -> None:
    """Gradient-free attacks cannot move immutable features either, and the success they
    claim is decided on the constrained point (nothing is reset after the attack)."""
    from assess_helpers import base_config

    immutable = list(range(0, 64, 2))
    cfg = base_config(
        model_file,
        threat_model={
            "access": "scores",
            "perturbation": {"norm": "linf", "eps": [0.3], "immutable": immutable},
        },
        attacks=[{"name": "objective", "params": {"max_queries": 30}}, "square"],
        gates=[],
        data={"dataset": "digits", "n": 10, "seed": 0},
        sanity={"extra_attacks": False},
        reports=[],
    )
    outcome = run_assessment(cfg, tmp_path / "run")
    suite = [r for r in outcome.results["records"] if r["task"]["role"] == "suite"]
    assert len(suite) == 2 and all(r["status"] == "ok" for r in suite)
    for r in suite:
        v = r["verified"]
        assert v["immutable_changed"] == 0 and v["claimed_not_adversarial"] == 0
    assert not [w for w in outcome.results["sanity"] if w["check"] == "eps-bounds"]


def test_target_constrain_is_applied_by_the_evasion_projection() -> None:
    from assess_helpers import digits_target

    from advlab.assess.build import ImmutableFeatures
    from advlab.attacks.evasion.objective import ObjectiveAttack
    from advlab.targets.base import ScoresOnly

    target = ScoresOnly(ImmutableFeatures(digits_target("plain"), [3, 5]))
    x = torch.rand(4, 1, 8, 8)
    cand = x + 0.5
    atk = ObjectiveAttack(eps=0.1)
    out = atk._enforce(target, x, cand, 0.1)
    flat, orig = out.reshape(4, -1), x.reshape(4, -1)
    assert torch.equal(flat[:, [3, 5]], orig[:, [3, 5]])
    assert bool((flat[:, 0] != orig[:, 0]).any())  # other features still move
    assert float((out - x).abs().max()) <= 0.1 + 1e-6


@pytest.mark.parametrize(
    "bad, expected",
    [("[]", "expected a JSON object"), ('{"config": 3}', "config"), ("{", "cannot read")],
)
def test_unusable_run_description_is_one_line(
    tmp_path: Path, bad: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    (run / "tasks").mkdir(parents=True)
    (run / "run.json").write_text(bad)
    assert cli_main(["report", str(run), "-f", "md"]) == 2
    err = capsys.readouterr().err
    assert "run.json" in err and expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1

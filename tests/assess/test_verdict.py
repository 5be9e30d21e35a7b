"""The verdict never calls a broken evaluation robust: blocking sanity findings make it
INCONCLUSIVE (exit 5) unless the config accepts them with a reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from advlab.assess import load_results, run_assessment
from advlab.assess.cli import main as cli_main
from advlab.assess.config import parse_config
from advlab.assess.runner import EXIT_INCONCLUSIVE, exit_code
from advlab.assess.sanity import classify
from advlab.errors import ConfigError
from advlab.report import render_text

HERE = Path(__file__).parent
LEGACY = HERE / "data" / "legacy-v1"


def masked_config(**sanity: Any) -> dict[str, Any]:
    """A target behind a quantisation layer (zero gradients), attacked by gradient attacks."""
    return {
        "name": "masked",
        "targets": [
            {
                "kind": "python",
                "name": "masked",
                "entry": "assess_helpers:digits_target",
                "kwargs": {"kind": "round"},
                "pythonpath": str(HERE),
            }
        ],
        "data": {"dataset": "digits", "n": 16, "seed": 0},
        "threat_model": {"perturbation": {"norm": "linf", "eps": [0.05, 0.2]}},
        "attacks": [{"name": "fgsm"}, {"name": "pgd", "params": {"steps": 5}}],
        "gates": ["clean_accuracy >= 0.5"],
        "sanity": {"extra_attacks": False, **sanity},
        "seed": 0,
    }


def write(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def masked_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("masked")
    run_assessment(write(root / "masked.yaml", masked_config()), root / "run")
    return root / "run"


def rerun(masked_run: Path, tmp_path: Path, **sanity: Any) -> dict[str, Any]:
    """The same run with another sanity section: resumed from a copy, so no attack runs
    again and the runner assembles the verdict under the new config."""
    run = tmp_path / "run"
    shutil.copytree(masked_run, run)
    outcome = run_assessment(
        write(tmp_path / "cfg.yaml", masked_config(**sanity)), run, resume=True
    )
    assert outcome.ran == 0 and outcome.reused == outcome.planned
    return outcome.results


def test_masked_defense_is_inconclusive_and_exits_5(
    masked_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res = load_results(masked_run)
    assert all(g["passed"] for g in res["gates"])  # the gate alone would say PASS
    assert res["verdict"] == "INCONCLUSIVE" and "zero-gradients" in res["verdict_reason"]
    zero = [w for w in res["sanity"] if w["check"] == "zero-gradients"]
    assert zero and zero[0]["impact"] == "invalidating" and zero[0]["blocking"]
    counts = res["sanity_counts"]
    assert counts["invalidating"] == sum(w["blocking"] for w in res["sanity"]) >= 1
    assert counts["accepted"] == 0 and counts["passed"] >= 1
    assert exit_code(res) == EXIT_INCONCLUSIVE == 5
    assert exit_code(res, soft_fail=True) == 5  # --soft-fail softens gate failures only
    assert cli_main(["report", str(masked_run), "-f", "md"]) == 5
    md = capsys.readouterr().out
    assert "**Verdict: INCONCLUSIVE**" in md
    assert f"{counts['invalidating']} invalidating, 0 accepted" in md
    html = render_text(res, "html")
    assert 'class="badge INCONCLUSIVE"' in html
    head = html.split('id="sanity-counts">')[1].split("</p>")[0]
    assert f"{counts['passed']} passed" in head and f"{counts['invalidating']} invalidating" in head


def test_accepting_every_finding_with_a_reason_passes_and_shows_it(
    masked_run: Path, tmp_path: Path
) -> None:
    found = sorted({w["check"] for w in load_results(masked_run)["sanity"] if w["blocking"]})
    accept = [
        {"check": c, "reason": f"quantisation is the point of this test ({c})"} for c in found
    ]
    res = rerun(masked_run, tmp_path, accept=accept)
    assert res["verdict"] == "PASS" and exit_code(res) == 0
    assert res["sanity_counts"]["accepted"] == len(res["sanity"]) and not any(
        w["blocking"] for w in res["sanity"]
    )
    md = render_text(res, "md")
    html = render_text(res, "html")
    for c in found:
        assert f"*Accepted:* quantisation is the point of this test ({c})" in md
        assert f"quantisation is the point of this test ({c})</span>" in html
    assert f"{len(found)} accepted" in md and "accepted sanity finding" in res["verdict_reason"]
    sarif = json.loads(render_text(res, "sarif"))
    levels = {r["ruleId"]: r["level"] for r in sarif["runs"][0]["results"]}
    assert levels["ADV-S008"] == "note"  # an accepted finding is a note, not an alert


def test_accepting_one_variant_by_id_leaves_the_rest_blocking(
    masked_run: Path, tmp_path: Path
) -> None:
    res = rerun(
        masked_run,
        tmp_path,
        accept=[{"check": "ADV-S008", "variant": "another", "reason": "not this target"}],
    )
    assert res["verdict"] == "INCONCLUSIVE"
    assert not any(w["accepted"] for w in res["sanity"])


def test_fail_on_decides_what_blocks(masked_run: Path, tmp_path: Path) -> None:
    only_zero = rerun(masked_run, tmp_path / "a", fail_on=["ADV-S008"])
    assert only_zero["verdict"] == "INCONCLUSIVE"
    assert [w["check"] for w in only_zero["sanity"] if w["blocking"]] == ["zero-gradients"]
    lenient = rerun(masked_run, tmp_path / "b", fail_on=["informational"])
    assert lenient["verdict"] == "PASS" and lenient["sanity_counts"]["invalidating"] == 0
    assert lenient["sanity_counts"]["informational"] == len(lenient["sanity"])


def test_classify_blocks_on_impacts_and_check_ids() -> None:
    notes = [
        {"check": "stopped-early", "id": "ADV-R001", "severity": "note", "variant": "a"},
        {"check": "zero-gradients", "id": "ADV-S008", "severity": "warning", "variant": "a"},
        {"check": "probabilities-not-logits", "id": "ADV-S011", "severity": "note"},
    ]
    out, counts = classify(notes, {})
    assert [w["impact"] for w in out] == ["informational", "invalidating", "informational"]
    assert counts == {"informational": 2, "invalidating": 1, "accepted": 0}
    out, counts = classify(notes, {"fail_on": ["invalidating", "stopped-early"]})
    assert [w["blocking"] for w in out] == [True, True, False]
    out, counts = classify(notes, {"fail_on": ["informational"]})
    assert [w["blocking"] for w in out] == [True, False, True]
    accept = [{"check": "zero-gradients", "variant": "a", "reason": "known"}]
    out, counts = classify(notes, {"accept": accept})
    assert out[1]["accepted"] and out[1]["accepted_reason"] == "known" and not out[1]["blocking"]
    assert counts == {"informational": 2, "invalidating": 0, "accepted": 1}


@pytest.mark.parametrize(
    ("sanity", "message"),
    [
        ({"accept": [{"check": "zero-gradients", "reason": "  "}]}, "needs a reason"),
        ({"accept": [{"check": "zero-gradients"}]}, "reason"),
        ({"accept": [{"check": "no-such-check", "reason": "x"}]}, "unknown sanity check"),
        ({"fail_on": ["warnings"]}, "unknown 'warnings'"),
    ],
)
def test_sanity_section_is_validated(sanity: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(masked_config(**sanity))


def test_check_ids_are_accepted_as_names() -> None:
    cfg = parse_config(
        masked_config(fail_on=["ADV-S008"], accept=[{"check": "adv-s003", "reason": "r"}])
    )
    assert cfg.sanity.accept[0].check == "non-monotonic"


@pytest.mark.parametrize("name", ["evasion-run", "inference-run"])
def test_old_run_directories_render_byte_stable_without_a_new_verdict(
    name: str, tmp_path: Path
) -> None:
    run = tmp_path / name
    shutil.copytree(LEGACY / name, run)
    stored = json.loads((run / "results.json").read_text())
    res = load_results(run)
    assert res.get("verdict") is None and res.get("sanity_counts") is None
    for fmt in ("md", "html", "sarif", "junit"):
        assert render_text(res, fmt, base=run) == render_text(load_results(run), fmt, base=run)
    md = render_text(res, "md")
    assert "INCONCLUSIVE" not in md and "## Summary" in md
    summary = md.split("## Summary")[1].split("## Gates")[0]
    assert ("clean acc" in summary) == (stored["goal"] == "evasion")  # no eps, no clean column
    # judged as the runner that wrote it judged it: by its gates
    failed = any(not g["passed"] for g in stored["gates"])
    expected = 2 if stored["counts"].get("error") else (1 if failed else 0)
    if not stored["counts"].get("suite_ok"):
        expected = 3
    assert exit_code(res) == expected
    assert "not classified" in render_text(res, "html")


def test_assess_command_exits_5_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write(tmp_path / "masked.yaml", masked_config())
    assert cli_main(["assess", str(cfg), "--out", str(tmp_path / "run")]) == 5
    err = capsys.readouterr().err
    assert "verdict INCONCLUSIVE" in err and "zero-gradients" in err

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from advlab.assess import run_assessment
from advlab.assess.sanity import run_checks

HERE = Path(__file__).parent


def _entry(name: str, kind: str) -> dict[str, Any]:
    return {
        "kind": "python",
        "name": name,
        "entry": "assess_helpers:digits_target",
        "kwargs": {"kind": kind},
        "pythonpath": str(HERE),
    }


@pytest.fixture(scope="module")
def sanity_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cfg = {
        "name": "sanity",
        "targets": [
            _entry("plain", "plain"),
            _entry("masked", "round"),
            _entry("probs", "softmax"),
        ],
        "data": {"dataset": "digits", "n": 24, "seed": 0},
        "threat_model": {"perturbation": {"norm": "linf", "eps": [0.05, 0.2]}},
        "attacks": [{"name": "fgsm"}, {"name": "pgd", "params": {"steps": 10}}],
        "seed": 0,
    }
    return run_assessment(cfg, tmp_path_factory.mktemp("s") / "run").results


def _checks(results: dict[str, Any], variant: str) -> set[str]:
    return {
        w["check"] for w in results["sanity"] if w["variant"] == variant and w["severity"] != "note"
    }


def test_masked_gradients_are_flagged(sanity_run: dict[str, Any]) -> None:
    masked = _checks(sanity_run, "masked")
    assert "zero-gradients" in masked
    probe = next(
        r["probe"]
        for r in sanity_run["records"]
        if r["task"]["role"] == "probe" and r["task"]["variant"] == "masked"
    )
    assert probe["grad_zero"] == probe["grad_points"] == 24


def test_probabilities_instead_of_logits_are_flagged(sanity_run: dict[str, Any]) -> None:
    assert "probabilities-not-logits" in _checks(sanity_run, "probs")
    assert "probabilities-not-logits" not in _checks(sanity_run, "plain")


def test_plain_model_passes_the_gradient_checks(sanity_run: dict[str, Any]) -> None:
    plain = _checks(sanity_run, "plain")
    assert not plain & {
        "zero-gradients",
        "nonfinite-gradients",
        "stochastic-forward",
        "eps-bounds",
        "success-recheck",
        "unbounded-not-broken",
    }
    # the sanity attacks ran: fgsm, short and long pgd, huge-eps pgd, and a probe
    roles = [
        r["task"]["attack"]
        for r in sanity_run["records"]
        if r["task"]["variant"] == "plain" and r["task"]["role"] != "suite"
    ]
    assert len(roles) == 5
    huge = next(
        r
        for r in sanity_run["records"]
        if r["task"]["variant"] == "plain" and "huge" in r["task"]["attack"]
    )
    assert huge["status"] == "ok"


# ---------------------------------------------------------------------------- unit checks
def _enc(v: list[bool]) -> dict[str, Any]:
    return {"__array__": list(v), "dtype": "bool", "shape": [len(v)]}


def _rec(
    attack: str,
    eps: float,
    success: list[bool],
    *,
    requires: str = "gradients",
    role: str = "suite",
    verified: dict[str, Any] | None = None,
    reference: str | None = None,
) -> dict[str, Any]:
    return {
        "key": f"{attack}{eps}{role}",
        "status": "ok",
        "task": {
            "kind": "evasion",
            "role": role,
            "variant": "v",
            "attack": attack,
            "attack_name": attack.split()[0],
            "eps": eps,
            "norm": "linf",
            "requires": requires,
            "reference": reference,
            "flags": ["iterative"] if attack.startswith("pgd") else [],
        },
        "result": {
            "clean_correct": _enc([True] * len(success)),
            "success": _enc(success),
            "target": {"num_classes": 10},
        },
        "verified": verified or {},
    }


CFG = {"sanity": {"tolerance": 0.02}}


def test_non_monotonic_fgsm_stronger_and_blackbox_subset() -> None:
    t, f = True, False
    recs = [
        _rec("fgsm", 0.1, [t, t, t, t, f, f, f, f]),
        _rec("pgd", 0.1, [t, t, f, f, f, f, f, f]),  # weaker than fgsm by two points
        _rec("pgd", 0.2, [f] * 8),  # fewer breaks at a larger eps
        _rec("square", 0.1, [f, f, f, f, t, f, f, f], requires="scores"),
    ]
    checks = {w["check"] for w in run_checks(recs, CFG)}
    assert {"fgsm-stronger", "non-monotonic", "blackbox-not-subset"} <= checks
    sub = next(w for w in run_checks(recs, CFG) if w["check"] == "blackbox-not-subset")
    assert sub["points"] == [4]


def test_a_single_point_never_decides_fgsm_stronger() -> None:
    t, f = True, False
    one = [_rec("fgsm", 0.1, [t, t, f, f, f, f, f, f]), _rec("pgd", 0.1, [t, f, f, f, f, f, f, f])]
    assert "fgsm-stronger" not in {w["check"] for w in run_checks(one, CFG)}
    two = [_rec("fgsm", 0.1, [t, t, t, f, f, f, f, f]), _rec("pgd", 0.1, [t, f, f, f, f, f, f, f])]
    assert "fgsm-stronger" in {w["check"] for w in run_checks(two, CFG)}


def test_consistent_records_raise_no_warning() -> None:
    recs = [
        _rec("fgsm", 0.1, [True, False, False, False]),
        _rec("pgd", 0.1, [True, True, False, False]),
        _rec("pgd", 0.2, [True, True, True, False]),
        _rec("square", 0.1, [False, True, False, False], requires="scores"),
    ]
    assert run_checks(recs, CFG) == []


def test_out_of_ball_points_and_convergence_are_flagged() -> None:
    recs = [
        _rec(
            "pgd", 0.1, [True, False], verified={"over_eps": 1, "out_of_bounds": 0, "max_norm": 0.2}
        ),
        _rec("pgd-20 (sanity)", 0.1, [False, False], role="sanity", reference="pgd-short"),
        _rec("pgd-50x2 (sanity)", 0.1, [True, True], role="sanity", reference="pgd-long"),
    ]
    w = {x["check"]: x for x in run_checks(recs, CFG)}
    assert w["eps-bounds"]["severity"] == "error"
    assert "not-converged" in w
    assert np.isfinite(0.0)


def test_infeasible_successes_are_an_error() -> None:
    recs = [_rec("pgd", 0.1, [True, False], verified={"infeasible": 1, "max_norm": 0.1})]
    w = [x for x in run_checks(recs, CFG) if x["check"] == "eps-bounds"]
    assert w and w[0]["severity"] == "error" and "domain constraints" in w[0]["detail"]
    clean = [_rec("pgd", 0.1, [True, False], verified={"infeasible": 0, "max_norm": 0.1})]
    assert not [x for x in run_checks(clean, CFG) if x["check"] == "eps-bounds"]

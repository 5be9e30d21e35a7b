from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from advlab.assess.gates import evaluate_gates, parse_gate
from advlab.errors import ConfigError


def test_parse_forms() -> None:
    g = parse_gate("robust_accuracy(linf, 0.1) >= 0.70")
    assert (g.metric, g.args, g.op, g.threshold) == (
        "robust_accuracy",
        {"norm": "linf", "eps": 0.1},
        ">=",
        0.70,
    )
    g = parse_gate("robust_accuracy(l2, 8/255, attack=apgd_t, target='adv-trained') > 70%")
    assert g.args == {
        "norm": "l2",
        "eps": pytest.approx(8 / 255),
        "attack": "apgd_t",
        "target": "adv-trained",
    }
    assert g.threshold == pytest.approx(0.7) and g.op == ">"
    assert parse_gate("clean_accuracy >= 0.9").args == {}
    g = parse_gate("metric(tpr_at_fpr.0.1, attack=lira) <= 0.05")
    assert g.args == {"key": "tpr_at_fpr.0.1", "attack": "lira"} and g.op == "<="


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("robust_acc(linf, 0.1) >= 0.7", "unknown metric"),
        ("robust_accuracy(linf, 0.1) => 0.7", "unexpected"),
        ("robust_accuracy(linf) >= 0.7", "needs eps"),
        ("robust_accuracy(l5, 0.1) >= 0.7", "norm must be"),
        ("robust_accuracy(linf, 0.1) >= 0.7 and 1", "after the threshold"),
        ("robust_accuracy(linf, 0.1, foo=1) >= 0.7", "unknown argument 'foo'"),
        ("robust_accuracy(linf, 0.1) >= ", "ended early"),
        ("", "non-empty"),
    ],
)
def test_parse_errors_say_what_was_expected(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_gate(text)


@pytest.mark.parametrize(
    "payload",
    [
        "__import__('os').system('touch {canary}') >= 0",
        "robust_accuracy(linf, __import__('os').system('touch {canary}')) >= 0",
        "clean_accuracy >= (lambda: open('{canary}', 'w'))()",
        'exec(\'open("{canary}", "w")\') >= 1',
    ],
)
def test_gates_never_evaluate_code(
    payload: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = tmp_path / "canary"

    def forbidden(*a: Any, **k: Any) -> None:
        raise AssertionError("eval/exec/compile must never be called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(builtins, "compile", forbidden)
    with pytest.raises(ConfigError):
        parse_gate(payload.format(canary=canary))
    assert not canary.exists()


def _rec(variant: str, attack: str, eps: float, cc: list[bool], sc: list[bool]) -> dict[str, Any]:
    def enc(v: list[bool]) -> dict[str, Any]:
        a = np.asarray(v)
        return {"__array__": a.tolist(), "dtype": "bool", "shape": list(a.shape)}

    return {
        "key": f"{variant}{attack}{eps}",
        "status": "ok",
        "task": {
            "kind": "evasion",
            "role": "suite",
            "variant": variant,
            "attack": attack,
            "attack_name": attack,
            "eps": eps,
            "norm": "linf",
            "requires": "gradients",
        },
        "result": {"clean_correct": enc(cc), "success": enc(sc), "summary": {"queries": 7}},
    }


def test_worst_case_is_per_point_and_covers_every_target() -> None:
    cc = [True, True, True, True]
    recs = [
        _rec("a", "fgsm", 0.1, cc, [True, False, False, False]),
        _rec("a", "pgd", 0.1, cc, [False, True, False, False]),
        _rec("b", "pgd", 0.1, cc, [False, False, False, False]),
    ]
    v = evaluate_gates(["robust_accuracy(linf, 0.1) >= 0.6"], recs)[0]
    # a: points 0 and 1 broken by different attacks -> 0.5; b: 1.0
    assert v.per_target == {"a": 0.5, "b": 1.0}
    assert v.value == 0.5 and not v.passed
    v = evaluate_gates(["robust_accuracy(linf, 0.1, target=b) >= 0.6"], recs)[0]
    assert v.passed and v.value == 1.0
    v = evaluate_gates(["robust_accuracy(linf, 0.1, attack=fgsm) >= 0.75"], recs)[0]
    assert v.passed and v.per_target == {"a": 0.75}
    v = evaluate_gates(["attack_success_rate(linf, 0.1, target=a) <= 0.25"], recs)[0]
    assert not v.passed and v.value == 0.5
    v = evaluate_gates(["metric(queries, target=a) <= 7"], recs)[0]
    assert v.passed and v.value == 7


def test_gate_without_matching_results_is_an_error() -> None:
    recs = [_rec("a", "pgd", 0.1, [True], [False])]
    v = evaluate_gates(["robust_accuracy(linf, 0.3) >= 0.5"], recs)[0]
    assert v.error and not v.passed and "no finished" in v.detail
    v = evaluate_gates(["clean_accuracy(target=zzz) >= 0.5"], recs)[0]
    assert v.error and "zzz" in v.detail

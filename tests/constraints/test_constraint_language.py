"""The constraint language: operators and text give the same trees; penalties are zero
exactly where relations hold; the parser never evaluates its input."""

from __future__ import annotations

import builtins
from typing import Any

import pytest
import torch

from advlab.constraints import ConstraintSet, Feature, OneHot, Ref, parse_expr, parse_relation
from advlab.errors import ConfigError

NAMES = ("a", "b", "c")


def cols(n: int = 400, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    # a coarse grid makes exact equalities and boundary cases frequent
    return {k: torch.randint(-3, 4, (n,), generator=g).double() for k in NAMES}


a, b, c = Ref("a"), Ref("b"), Ref("c")

CASES = [
    ("a <= b", a <= b),
    ("a < b", a < b),
    ("a == b", a == b),
    ("a >= b + 1", a >= b + 1),
    ("a > 2 * c", a > 2 * c),
    ("a + b * c <= 3", a + b * c <= 3),
    ("a <= b and b <= c", (a <= b) & (b <= c)),
    ("a == 0 or b == 0", (a == 0) | (b == 0)),
    ("a <= 1 or b <= 1 and c == 2", (a <= 1) | ((b <= 1) & (c == 2))),
    ("(a <= 1 or b <= 1) and c == 2", ((a <= 1) | (b <= 1)) & (c == 2)),
    ("(a - b) / 2 < c", (a - b) / 2 < c),
]


@pytest.mark.parametrize(("text", "built"), CASES, ids=[t for t, _ in CASES])
def test_text_and_operators_agree(text: str, built: Any) -> None:
    parsed = parse_relation(text, NAMES)
    x = cols()
    assert torch.equal(parsed.penalty(x), built.penalty(x))
    assert torch.equal(parsed.holds(x), built.holds(x))


@pytest.mark.parametrize(("text", "built"), CASES, ids=[t for t, _ in CASES])
def test_penalty_is_zero_exactly_where_the_relation_holds(text: str, built: Any) -> None:
    x = cols(seed=1)
    zero = built.penalty(x) == 0
    holds = built.holds(x)
    assert torch.equal(zero, holds)
    assert bool(holds.any()) and bool((~holds).any()), "the grid must cover both cases"
    assert bool((built.penalty(x) >= 0).all())


def test_penalty_values_follow_simonetto_et_al() -> None:
    x = {
        "a": torch.tensor([3.0, 1.0]),
        "b": torch.tensor([1.0, 2.0]),
        "c": torch.tensor([0.0, 0.0]),
    }
    assert torch.equal((a <= b).penalty(x), torch.tensor([2.0, 0.0]))
    assert torch.equal((a == b).penalty(x), torch.tensor([2.0, 1.0]))
    assert torch.equal(((a <= b) & (a == b)).penalty(x), torch.tensor([4.0, 1.0]))
    assert torch.equal(((a <= b) | (a == b)).penalty(x), torch.tensor([2.0, 0.0]))
    strict = (a < b).penalty({"a": torch.tensor([2.0]), "b": torch.tensor([2.0]), "c": x["c"]})
    assert float(strict) > 0, "a < b is violated at a == b"


def test_arithmetic_precedence_and_associativity() -> None:
    x = {"a": torch.tensor([2.0]), "b": torch.tensor([3.0]), "c": torch.tensor([2.0])}
    assert float(parse_expr("a + b * c", NAMES).evaluate(x)) == 8.0
    assert float(parse_expr("a ** b ** c", NAMES).evaluate(x)) == 2.0**9
    assert float(parse_expr("-a ** 2", NAMES).evaluate(x)) == -4.0
    assert float(parse_expr("(a - b) - c", NAMES).evaluate(x)) == -3.0
    assert float(parse_expr("a - b - c", NAMES).evaluate(x)) == -3.0
    assert float(parse_expr("1.5e1 / a", NAMES).evaluate(x)) == 7.5


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("__import__('os').system('true') == 0", "unexpected"),
        ("a.__class__ <= 1", "unknown feature"),
        ("open(a) <= 1", "unknown feature"),
        ("a <= b;", "unexpected"),
        ("a <= ", "end"),
        ("a + b", "comparison"),
        ("d <= 1", "unknown feature"),
        ("(a <= 1", "end"),
        ("a <= 1 or", "end"),
        ("a <= b <= c", "unexpected"),
        ("lambda: 0", "unexpected"),
        ("(" * 200 + "a" + ")" * 200 + " <= 1", "nested"),
        ("a <= " + "1 + " * 2000 + "1", "longer"),
        ("-" * 3000 + "a <= 1", "nested too deeply"),
    ],
)
def test_bad_text_is_a_config_error(text: str, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        parse_relation(text, NAMES)


def test_the_parser_never_evaluates(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("eval/exec/compile called")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, forbidden)
    rel = parse_relation("a * (b + 1) <= c ** 2 or a == 0", NAMES)
    assert bool(
        rel.holds({"a": torch.tensor([0.0]), "b": torch.tensor([5.0]), "c": torch.tensor([0.0])})
    )


def set_of_three() -> ConstraintSet:
    return ConstraintSet(
        [
            Feature("n", "integer", 0, 10, "increase"),
            Feature("u", "real", -1, 1),
            Feature("p", "binary", 0, 1),
            Feature("q", "binary", 0, 1),
            Feature("s", "real", -5, 5),
        ],
        groups=[OneHot("pq", ("p", "q"))],
        relations={"sum": "s == n + u", "cap": "u <= 0.5 or n >= 5"},
    )


def test_config_round_trip() -> None:
    cs = set_of_three()
    again = ConstraintSet.from_config(cs.describe())
    assert again.describe()["relations"] == cs.describe()["relations"]
    x = torch.tensor([[3.0, 0.9, 1.0, 0.0, 3.9], [3.0, 0.9, 1.0, 0.0, 0.0]])
    assert torch.equal(cs.feasible(x), again.feasible(x))
    assert cs.feasible(x).tolist() == [False, False]  # cap fails; row 2 also breaks sum


@pytest.mark.parametrize(
    ("cfg", "word"),
    [
        ({"features": []}, "at least one"),
        ({"features": [{"name": "a", "type": "complex"}]}, "type"),
        ({"features": [{"name": "a", "mutability": "sometimes"}]}, "mutability"),
        ({"features": [{"name": "a"}], "relations": ["b <= 1"]}, "unknown feature"),
        ({"features": [{"name": "a"}], "relations": [3]}, "strings"),
        ({"features": [{"name": "a"}], "scaled": True}, "finite bounds"),
        ({"features": [{"name": "a"}], "extra": 1}, "unknown constraint keys"),
        ({"features": [{"name": "a"}], "groups": [{"name": "g", "members": ["a", "a"]}]}, "binary"),
    ],
)
def test_bad_configs_are_config_errors(cfg: dict[str, Any], word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        ConstraintSet.from_config(cfg)


def test_definition_cycles_are_refused() -> None:
    cs = ConstraintSet(
        [Feature("a"), Feature("b")], relations={"x": "a == b + 1", "y": "b == a - 1"}
    )
    with pytest.raises(ConfigError, match="cycle"):
        cs.definitions()

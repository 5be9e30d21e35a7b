"""The checker and the repair: every projection is exact (the nearest feasible value) and
idempotent; what cannot be projected is left to the checker."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch

from advlab.constraints import ConstraintSet, Feature, OneHot, repair
from advlab.errors import InputError


def cs_mixed(scaled: bool = False) -> ConstraintSet:
    return ConstraintSet(
        [
            Feature("n", "integer", 0, 10, "increase"),
            Feature("m", "integer", 0, 10, "decrease"),
            Feature("u", "real", -1, 1),
            Feature("k", "real", -1, 1, "immutable"),
            Feature("p", "binary", 0, 1),
            Feature("q", "binary", 0, 1),
            Feature("r", "binary", 0, 1),
            Feature("s", "real", -50, 50),
            Feature("t", "real", -50, 50),
        ],
        groups=[OneHot("pqr", ("p", "q", "r"))],
        relations={
            "s_def": "s == n * u + k",
            "t_def": "t == 2 * s - m",
            "cap": "u <= 0.5 or n >= 5",
        },
        scaled=scaled,
    )


def clean(n: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    nn_ = torch.randint(0, 11, (n,), generator=g).double()
    mm = torch.randint(0, 11, (n,), generator=g).double()
    u = torch.rand(n, generator=g, dtype=torch.float64) - 0.5
    k = torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1
    onehot = torch.nn.functional.one_hot(torch.randint(0, 3, (n,), generator=g), 3).double()
    s = nn_ * u + k
    t = 2 * s - mm
    return torch.column_stack([nn_, mm, u, k, onehot, s, t])


def noisy(x: torch.Tensor, scale: float, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return x + scale * torch.randn(x.shape, generator=g, dtype=x.dtype)


def test_clean_points_are_feasible_and_noise_is_caught() -> None:
    cs, x0 = cs_mixed(), clean()
    assert bool(cs.feasible(x0, x0).all())
    v = cs.violations(noisy(x0, 0.3), x0)
    counts = v.counts()
    for name in ("integer:n", "binary:p", "onehot:pqr", "mutability:k", "relation:s_def"):
        assert counts.get(name, 0) > 0, name
    assert not bool(v.feasible.any())
    assert v.of(0) and all(n in v.names for n in v.of(0))


def test_repair_is_exact_where_a_projection_exists() -> None:
    cs, x0 = cs_mixed(), clean()
    xa = noisy(x0, 3.0)
    xr = repair(cs, xa, x0)
    # mutability, then bounds: the nearest admissible real value
    assert torch.equal(xr[:, 3], x0[:, 3])
    assert torch.equal(xr[:, 2], xa[:, 2].clamp(-1, 1))
    # integers: the nearest integer inside the bounds and on the allowed side of x0
    n_box = torch.maximum(xa[:, 0], x0[:, 0]).clamp(0, 10)
    assert torch.equal(xr[:, 0], n_box.round())
    m_box = torch.minimum(xa[:, 1], x0[:, 1]).clamp(0, 10)
    assert torch.equal(xr[:, 1], m_box.round())
    # one-hot: the nearest one-hot vector (brute force over the three)
    vecs = torch.eye(3, dtype=xa.dtype)
    box = xa[:, 4:7].clamp(0, 1)
    nearest = vecs[((box[:, None, :] - vecs[None]) ** 2).sum(-1).argmin(1)]
    assert torch.equal(xr[:, 4:7], nearest)
    # definitions, in dependency order (t reads s)
    assert torch.allclose(xr[:, 7], xr[:, 0] * xr[:, 2] + xr[:, 3])
    assert torch.allclose(xr[:, 8], 2 * xr[:, 7] - xr[:, 1])
    # what remains is only the relation that has no projection
    left = set(cs.violations(xr, x0).counts())
    assert left <= {"relation:cap"}
    assert torch.equal(repair(cs, xr, x0), xr), "the repair is idempotent"


def test_scaled_sets_repair_in_raw_units() -> None:
    raw_cs, scaled_cs = cs_mixed(), cs_mixed(scaled=True)
    x0 = clean()
    lo = torch.tensor([f.lower for f in raw_cs.features], dtype=torch.float64)
    hi = torch.tensor([f.upper for f in raw_cs.features], dtype=torch.float64)
    s0 = (x0 - lo) / (hi - lo)
    assert bool(scaled_cs.feasible(s0, s0).all())
    sa = noisy(s0, 0.05)
    raw_back = scaled_cs.to_raw(repair(scaled_cs, sa, s0))
    expect = repair(raw_cs, scaled_cs.to_raw(sa), x0)
    assert torch.allclose(raw_back, expect, atol=1e-9)


def test_immutable_groups_and_shapes() -> None:
    cs = ConstraintSet(
        [Feature("a", "binary", 0, 1), Feature("b", "binary", 0, 1), Feature("c", "real", 0, 1)],
        groups=[OneHot("ab", ("a", "b"), "immutable")],
    )
    x0 = torch.tensor([[1.0, 0.0, 0.5]])
    assert torch.equal(
        repair(cs, torch.tensor([[0.0, 1.0, 0.7]]), x0), torch.tensor([[1.0, 0.0, 0.7]])
    )
    assert cs.immutable_columns() == [0, 1]
    img = torch.zeros(1, 1, 3)
    assert repair(cs, img, img.clone()).shape == (1, 1, 3)
    with pytest.raises(InputError, match="features"):
        cs.violations(torch.zeros(2, 4))


def test_definitions_pick_mutable_real_features_only() -> None:
    cs = ConstraintSet(
        [Feature("a", "integer", 0, 9), Feature("b", mutability="immutable"), Feature("c")],
        relations={"r1": "a == c + 1", "r2": "b == c * 2", "r3": "c == 4 - 1"},
    )
    defined = [cs.names[j] for j, _ in cs.definitions()]
    assert defined == ["c"], "integers and immutable features are not recomputed"


@pytest.mark.parametrize(("mut", "want"), [("increase", [1.0, 1.0]), ("decrease", [0.0, 0.0])])
def test_binary_mutability(mut: str, want: list[float]) -> None:
    cs = ConstraintSet([Feature("f", "binary", 0, 1, mut)])
    x0 = torch.tensor([[1.0], [0.0]]) if mut == "increase" else torch.tensor([[0.0], [1.0]])
    xa = torch.tensor([[0.2], [0.9]]) if mut == "increase" else torch.tensor([[0.8], [0.1]])
    out = repair(cs, xa, x0)
    assert out.flatten().tolist() == want
    assert bool(cs.feasible(out, x0).all())


def test_credit_data_is_feasible_and_its_checks_bite(credit: Any, credit_cs: Any) -> None:
    x = torch.as_tensor(credit.x_test)
    assert bool(credit_cs.feasible(x, x).all())
    groups = {g.name for g in credit_cs.groups}
    assert groups == {"term", "purpose"}
    defined = {credit_cs.names[j] for j, _ in credit_cs.definitions()}
    assert defined == {"instalment", "dti", "loan_to_income"}
    moved = x.clone()
    moved[:, credit_cs.index["amount"]] += 0.05  # instalment and ratios no longer match
    counts = credit_cs.violations(moved.clamp(0, 1), x).counts()
    assert counts.get("relation:amortisation", 0) > 0.9 * len(x)
    fixed = repair(credit_cs, moved.clamp(0, 1), x)
    left = set(credit_cs.violations(fixed, x).counts())
    assert left <= {
        "relation:education_cap",
        "relation:long_term_minimum",
        "relation:debt_cap",
        "bounds:instalment",
        "bounds:dti",
        "bounds:loan_to_income",
    }


def test_every_combination_of_one_hot_is_checked() -> None:
    cs = ConstraintSet(
        [Feature(n, "binary", 0, 1) for n in "abc"], groups=[OneHot("g", tuple("abc"))]
    )
    rows = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)))
    ok = cs.feasible(rows)
    assert ok.tolist() == [bool(r.sum() == 1) for r in rows]

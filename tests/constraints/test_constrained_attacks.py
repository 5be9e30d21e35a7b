"""Every evasion attack under domain constraints returns only feasible examples; unconstrained
PGD's are infeasible; CPGD and MoEvA2 find feasible ones."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from advlab.errors import ConfigError
from advlab.registry import all_attacks
from advlab.results import EvasionResult, Result

EPS = 0.3
ATTACKS = {  # feature-space attacks: the PE-file attacks work on bytes, not feature vectors
    name: cls
    for name, cls in all_attacks("evasion").items()
    if "modality:binary" not in getattr(cls, "tags", frozenset())
}


def build(cls: type[Any], surrogate: Any, **over: Any) -> Any:
    names = set(cls._param_names())
    kw: dict[str, Any] = dict(cls.fast_params)
    norm = "linf" if "linf" in cls.norms else cls.norms[0]
    kw.update(norm=norm, eps=EPS if norm == "linf" else EPS * 4)
    if "surrogate" in names:
        kw["surrogate"] = surrogate
    kw.update(over)
    return cls(**{k: v for k, v in kw.items() if k in names})


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_attack_returns_feasible_examples(
    name: str, credit_target: Any, credit_batch: Any, credit_cs: Any, credit_surrogate: Any
) -> None:
    x, y = credit_batch
    atk = build(ATTACKS[name], credit_surrogate)
    if name == "apgd_t":  # its targeted DLR loss needs 4 classes; credit has 2
        with pytest.raises(ConfigError, match="4 classes"):
            atk.run(credit_target, x, y, constraints=credit_cs)
        return
    res = atk.run(credit_target, x, y, constraints=credit_cs)
    x0 = torch.as_tensor(x)
    assert res.feasible is not None, "the result records feasibility"
    ok = credit_cs.feasible(res.x_adv[res.success], x0[res.success])
    assert bool(ok.all()), f"{name} returned infeasible successes"
    assert torch.equal(res.feasible[res.success], ok)
    assert torch.equal(res.x_adv[~res.success], x0[~res.success].to(res.x_adv.dtype))
    assert "feasible_rate" in res.summary()
    assert float(credit_target.lower) == 0.0 and float(credit_target.upper) == 1.0


def test_moeva2_leaves_a_float64_targets_bounds_alone(
    credit_models: Any, credit_batch: Any, credit_cs: Any
) -> None:
    from advlab.targets import SklearnClassifier

    target = SklearnClassifier(credit_models[0], bounds=(0.0, 1.0))  # float64: arrays share memory
    x, y = credit_batch
    build(ATTACKS["moeva2"], None).run(target, x[:3], y[:3], constraints=credit_cs)
    assert float(target.lower) == 0.0 and float(target.upper) == 1.0


def test_unconstrained_pgd_is_infeasible_and_repair_is_not_free(
    credit_target: Any, credit_batch: Any, credit_cs: Any
) -> None:
    from advlab.attacks.evasion.pgd import PGD

    x, y = credit_batch
    free = PGD(eps=EPS, steps=20).run(credit_target, x, y)
    assert free.feasible is None and free.success_rate > 0.5
    feasible = credit_cs.feasible(free.x_adv[free.success], torch.as_tensor(x)[free.success])
    assert not bool(feasible.any()), "every unconstrained success breaks a domain constraint"
    repaired = PGD(eps=EPS, steps=20).run(credit_target, x, y, constraints=credit_cs)
    assert bool(repaired.feasible[repaired.success].all())
    assert repaired.success_rate <= free.success_rate


@pytest.mark.parametrize("name", ["cpgd", "moeva2"])
def test_constrained_attacks_break_points_feasibly(
    name: str, credit_target: Any, credit_batch: Any, credit_cs: Any
) -> None:
    from advlab.targets import ScoresOnly

    x, y = credit_batch
    over = {"steps": 30} if name == "cpgd" else {"generations": 15, "population": 24}
    atk = build(ATTACKS[name], None, constraints=credit_cs, **over)
    target = credit_target if name == "cpgd" else ScoresOnly(credit_target)
    res = atk.run(target, x, y)
    assert res.success_rate > 0.5
    assert bool(res.feasible.all())
    back = Result.from_json(res.to_json())
    assert isinstance(back, EvasionResult) and torch.equal(back.feasible, res.feasible)
    assert "ConstraintSet" in str(res.params["constraints"])


def test_cpgd_penalty_direction_reduces_violations(credit_cs: Any) -> None:
    from advlab.attacks.evasion.cpgd import _penalty_grad

    x = torch.tensor(np.full((1, len(credit_cs.features)), 0.5))
    x[0, credit_cs.index["monthly_debt"]] = 0.9  # debt above a twelfth of the income
    before = float(credit_cs.penalty(x))
    assert before > 0
    g = _penalty_grad(credit_cs, x)
    after = float(credit_cs.penalty(x - 1e-3 * g / g.norm()))
    assert after < before


def test_cpgd_chains_the_gradient_through_defined_features(credit_cs: Any) -> None:
    from advlab.attacks.evasion.cpgd import _through_definitions

    cs = credit_cs
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, len(cs.features), generator=g, dtype=torch.float64) * 0.5 + 0.25
    w = torch.randn(len(cs.features), generator=g, dtype=torch.float64)  # a linear "loss"
    chained = _through_definitions(cs, x, w.expand_as(x).clone())
    defined = [j for j, _ in cs.definitions()]
    assert bool((chained[:, defined] == 0).all())

    def loss_after_definitions(z: torch.Tensor) -> torch.Tensor:
        raw = cs.to_raw(z)
        for j, rel in defined_rels:
            raw[:, j] = rel.right.evaluate(cs.columns(raw))
        return cs.to_input(raw, torch.float64) @ w

    defined_rels = cs.definitions()
    amount = cs.index["amount"]
    h = 1e-6
    up, down = x.clone(), x.clone()
    up[:, amount] += h
    down[:, amount] -= h
    numeric = (loss_after_definitions(up) - loss_after_definitions(down)) / (2 * h)
    assert torch.allclose(chained[:, amount], numeric, rtol=1e-4, atol=1e-6)

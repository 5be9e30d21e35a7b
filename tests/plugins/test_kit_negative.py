"""The kit is not vacuous: plugins that do nothing fail it, on their efficacy floor."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from advlab.access import Access
from advlab.attacks.evasion.base import EvasionAttack
from advlab.attacks.extraction.base import ExtractionAttack, Stolen
from advlab.attacks.inference.base import MembershipAttack
from advlab.attacks.poisoning.base import PoisoningAttack
from advlab.defenses.base import DefendedTarget, Defense
from advlab.testing import ConformanceError, check, check_plugin, register_checks
from advlab.testing._registry import CHECKS


class NoopEvasion(EvasionAttack):
    name = "noop_evasion"
    summary = "returns its input unchanged"

    def __init__(
        self,
        *,
        norm: str = "linf",
        eps: float | None = 0.1,
        seed: int | None = 0,
        batch_size: int = 64,
    ) -> None:
        self.norm, self.eps, self.seed, self.batch_size = norm, eps, seed, batch_size

    def _perturb(self, target: Any, x: torch.Tensor, y: torch.Tensor, **kw: Any) -> torch.Tensor:
        return x


class NoopDefense(Defense):
    name = "noop_defense"
    summary = "wraps a target and changes nothing"

    def __init__(self) -> None:
        pass

    def apply(self, target: Any) -> Any:
        return DefendedTarget(target, self)


class NoopExtraction(ExtractionAttack):
    name = "noop_extraction"
    summary = "returns an untrained copy without querying"

    def __init__(self, *, seed: int | None = 0) -> None:
        self.seed = seed

    def _extract(self, target: Any, x: Any, *, generator: Any, evaluate: Any) -> Stolen:
        torch.manual_seed(0)
        target.labels(x[:1])  # one query, so the budget checks have something to meter
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
        return Stolen(model=model)


class NoopMembership(MembershipAttack):
    name = "noop_membership"
    summary = "scores every example the same"

    def __init__(self) -> None:
        pass

    def score(self, signals: Any) -> np.ndarray:
        return np.zeros(signals.n_examples)


class NoopPoisoning(PoisoningAttack):
    name = "noop_poisoning"
    summary = "returns the training set unchanged"
    requires = Access.LABELS

    def __init__(self, *, budget: float = 0.05, seed: int | None = 0) -> None:
        self.budget, self.seed = budget, seed

    def poison(self, x: Any, y: Any, *, bounds: tuple[float, float] = (0.0, 1.0)) -> Any:
        xa, ya = self._check_data(x, y, bounds)
        k = self._n_poison(len(ya))
        return self._result(
            x=xa,
            y=ya,
            indices=self._rng().choice(len(ya), k, replace=False),
            bounds=bounds,
            budget=self.budget,
        )


def test_noop_evasion_attack_fails_only_its_floor() -> None:
    with pytest.raises(ConformanceError, match="efficacy_floor"):
        check_plugin(NoopEvasion)
    report = check_plugin(NoopEvasion, raise_on_failure=False)
    assert set(report.failed) == {"efficacy_floor"}  # hygiene alone would have passed it
    assert "respects_bounds_and_eps" in report.passed and len(report.passed) >= 10


def test_noop_defense_fails_its_floor() -> None:
    report = check_plugin(NoopDefense, raise_on_failure=False)
    assert set(report.failed) == {"efficacy_floor"}
    assert "wrapped_target_contract" in report.passed


@pytest.mark.parametrize("cls", [NoopExtraction, NoopMembership, NoopPoisoning])
def test_noop_attacks_fail_their_floor(cls: type[Any]) -> None:
    report = check_plugin(cls, raise_on_failure=False)
    assert "efficacy_floor" in report.failed
    assert report.passed, "the hygiene checks ran"


def test_expected_failures_need_a_reason_and_a_known_check() -> None:
    class Excused(NoopEvasion):
        expected_failures = {"efficacy_floor": "returns its input (a test double)"}

    report = check_plugin(Excused)
    assert report.ok and report.xfailed == {"efficacy_floor": "returns its input (a test double)"}

    class NoReason(NoopEvasion):
        expected_failures = {"efficacy_floor": " "}

    with pytest.raises(ValueError, match="reason"):
        check_plugin(NoReason)

    class Unknown(NoopEvasion):
        expected_failures = {"no_such_check": "because"}

    with pytest.raises(ValueError, match="unknown check"):
        check_plugin(Unknown)


def test_an_expected_failure_that_passes_is_reported() -> None:
    from advlab.attacks.evasion.fgsm import FGSM

    class Overcautious(FGSM):
        expected_failures = {"efficacy_floor": "wrongly declared"}

    report = check_plugin(Overcautious, raise_on_failure=False)
    assert report.xpassed == ["efficacy_floor"] and not report.ok


def test_new_families_register_their_checks() -> None:
    seen: list[str] = []

    @check("says_hello")
    def says_hello(plugin: Any) -> None:
        seen.append(plugin.name)

    class Probe:
        name = "hello_probe"
        family = "probe"

        def get_params(self) -> dict[str, Any]:
            return {}

    register_checks("probe", [says_hello])
    try:
        with pytest.raises(ValueError, match="twice"):
            register_checks("probe", [says_hello])
        from advlab.testing.api import checks_for

        assert [c.name for c in checks_for(Probe) if c.name == "says_hello"] == ["says_hello"]
        says_hello(Probe())
        assert seen == ["hello_probe"]
    finally:
        CHECKS["probe"].remove(says_hello)

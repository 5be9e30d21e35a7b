"""The conformance kit (advlab.testing) over every discovered plugin."""

from __future__ import annotations

from typing import Any

import pytest

from advlab.registry import DEFENSES, all_attacks, discover
from advlab.testing import checks_for, parametrize_with_checks

discover()
PLUGINS: list[type[Any]] = [
    *all_attacks().values(),
    *(DEFENSES[n] for n in sorted(DEFENSES)),
]


@parametrize_with_checks(PLUGINS)
def test_kit(plugin: Any, check: Any) -> None:
    check(plugin)


@pytest.mark.parametrize("cls", PLUGINS, ids=lambda c: c.name)
def test_every_plugin_has_an_efficacy_floor(cls: type[Any]) -> None:
    names = [c.name for c in checks_for(cls)]
    assert any(n.startswith("efficacy_floor") for n in names), names
    assert "constructor_stores_params" in names


def test_every_family_is_covered() -> None:
    assert "objective" in {c.name for c in PLUGINS}  # the optimisation attack is a plugin too
    families = {c.family for c in PLUGINS}
    assert {"evasion", "extraction", "inference", "poisoning", "defense"} <= families


def test_pgd_steps_must_be_positive(digits_target: Any, small_batch: Any) -> None:
    from advlab.errors import ConfigError
    from advlab.registry import get_attack

    x, y = small_batch
    with pytest.raises(ConfigError, match="steps"):
        get_attack("pgd")(steps=0).run(digits_target, x, y)

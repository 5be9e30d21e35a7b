"""The conformance kit over every challenge (discovered, not listed by hand)."""

from __future__ import annotations

from typing import Any

import advlab.lab.kit  # noqa: F401  (registers the challenge checks)
from advlab.lab import all_challenges
from advlab.testing import checks_for, parametrize_with_checks


def test_at_least_twelve_challenges_across_modules() -> None:
    table = all_challenges()
    assert len(table) >= 12
    assert {c.module for c in table.values()} >= {0, 1, 2, 3, 4, 5, 6}
    assert {c.tier for c in table.values()} == {"easy", "medium", "hard"}


def test_the_challenge_checks_apply() -> None:
    names = {c.name for c in checks_for(all_challenges()["threat_model"])}
    assert {"challenge_metadata", "pickle_never_loaded", "clone_roundtrip"} <= names


@parametrize_with_checks(list(all_challenges().values()))
def test_challenge_conformance(plugin: Any, check: Any) -> None:
    check(plugin)

"""The plugin registry: one table per family, validation at registration, deprecated aliases
resolved with a warning (also through the assessment's lookup), unregistering."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from advlab import registry
from advlab.assess.build import attack_class
from advlab.attacks.evasion.base import EvasionAttack
from advlab.errors import UnknownNameError
from advlab.plugin import Plugin
from advlab.registry import (
    all_plugins,
    get_attack,
    get_plugin,
    register_attack,
    register_defense,
    register_plugin,
    unregister,
)


def _probe(**attrs: Any) -> type[Plugin]:
    body = {
        "name": "throwaway_probe",
        "family": "probe",
        "paper": "A throwaway probe",
        "link": "https://example.org/throwaway-probe",
        "summary": "a throwaway probe of a language-model application",
        "tags": frozenset({"threat:llm", "modality:text", "access:labels"}),
        "aliases": ("throwaway-probe",),
        **attrs,
    }
    return type("ThrowawayProbe", (Plugin,), body)


@pytest.fixture
def probe() -> Iterator[type[Plugin]]:
    cls = register_plugin(_probe())
    try:
        yield cls
    finally:
        unregister("probe", "throwaway_probe")


def test_a_new_family_has_its_own_table(probe: type[Plugin]) -> None:
    assert get_plugin("probe", "throwaway_probe") is probe
    assert all_plugins("probe")["probe"]["throwaway_probe"] is probe
    assert set(all_plugins("probe")) == {"probe"}
    assert "throwaway_probe" not in registry.ATTACKS and "throwaway_probe" not in registry.DEFENSES
    with pytest.raises(UnknownNameError, match="unknown detector 'throwaway_probe'"):
        get_plugin("detector", "throwaway_probe")
    with pytest.raises(UnknownNameError, match="unknown plugin family 'widget'"):
        get_plugin("widget", "throwaway_probe")


def test_unregister_removes_the_plugin_and_its_aliases() -> None:
    register_plugin(_probe())
    unregister("probe", "throwaway_probe")
    assert "throwaway-probe" not in registry.ALIASES
    for name in ("throwaway_probe", "throwaway-probe"):
        with pytest.raises(UnknownNameError):
            get_plugin("probe", name)


def test_an_alias_resolves_with_a_deprecation_warning_and_a_log_line(
    probe: type[Plugin], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="advlab.registry"):
        with pytest.warns(DeprecationWarning, match="'throwaway-probe' is deprecated"):
            assert get_plugin("probe", "throwaway-probe") is probe
    assert any("use 'throwaway_probe'" in r.getMessage() for r in caplog.records)


def test_the_assessment_lookup_goes_through_aliases() -> None:
    with pytest.warns(DeprecationWarning, match="apgd_t"):
        cls = attack_class("apgd-t")
    assert cls is get_attack("apgd_t")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the current name does not warn
        assert attack_class("apgd_t") is cls


def _evasion(cls_name: str, name: str) -> type[EvasionAttack]:
    body = {
        "name": name,
        "paper": "A. Author 2020, arXiv:2001.00001",
        "summary": "a throwaway attack",
        "_perturb": lambda self, target, x, y, **kw: x,
    }
    return type(cls_name, (EvasionAttack,), body)


def test_register_plugin_sends_attacks_to_the_attack_table() -> None:
    cls = register_plugin(_evasion("ThrowawayRouted", "throwaway_routed"))
    try:
        assert get_attack("throwaway_routed") is cls
        assert get_plugin("evasion", "throwaway_routed") is cls
    finally:
        unregister("evasion", "throwaway_routed")
    assert "throwaway_routed" not in registry.ATTACKS


@pytest.mark.parametrize(
    ("register", "attrs", "problem"),
    [
        (register_attack, {}, "family 'probe' does not belong in the attack table"),
        (register_defense, {}, "family 'probe' does not belong in the defense table"),
        (register_plugin, {"family": "widget"}, "unknown family 'widget'"),
        (register_plugin, {"aliases": ("pgd",)}, "alias 'pgd' is already taken"),
        (register_plugin, {"aliases": ("apgd-t",)}, "alias 'apgd-t' is already taken"),
        (register_plugin, {"link": ""}, "link"),
        (register_plugin, {"tags": frozenset({"threat:weather"})}, "unknown tag 'threat:weather'"),
    ],
)
def test_registration_refuses_with_a_message_naming_the_problem(
    register: Any, attrs: dict[str, Any], problem: str
) -> None:
    get_attack("pgd")  # discovery done: the built-in names and aliases are taken
    with pytest.raises(ValueError, match=problem):
        register(_probe(**attrs))
    assert "throwaway_probe" not in registry.PLUGINS["probe"]
    assert "throwaway_probe" not in registry.ATTACKS


def test_a_second_class_under_a_taken_name_is_refused() -> None:
    original = get_attack("pgd")
    with pytest.raises(ValueError, match="'pgd' is registered twice"):
        register_attack(_evasion("Impostor", "pgd"))
    assert get_attack("pgd") is original


def test_a_subclass_does_not_inherit_its_parents_aliases(probe: type[Plugin]) -> None:
    sub = register_plugin(type("SubProbe", (probe,), {"name": "throwaway_sub_probe"}))
    try:
        assert get_plugin("probe", "throwaway_sub_probe") is sub
        with pytest.warns(DeprecationWarning):
            assert get_plugin("probe", "throwaway-probe") is probe
    finally:
        unregister("probe", "throwaway_sub_probe")
    assert registry.ALIASES["throwaway-probe"] == "throwaway_probe"

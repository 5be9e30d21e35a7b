"""The conformance kit over every probe, detector and transform plugin."""

from __future__ import annotations

from typing import Any

from advlab.registry import all_plugins
from advlab.testing import checks_for, parametrize_with_checks

FAMILIES = ("probe", "detector", "transform")
PLUGINS: list[type[Any]] = [
    cls
    for fam in FAMILIES
    for cls in all_plugins(fam)[fam].values()
    if cls.__module__.startswith("advlab.")
]


@parametrize_with_checks(PLUGINS)
def test_kit(plugin: Any, check: Any) -> None:
    check(plugin)


def test_every_llm_family_has_plugins_and_an_efficacy_floor() -> None:
    names = {fam: set(all_plugins(fam)[fam]) for fam in FAMILIES}
    assert {
        "prompt_injection",
        "indirect_injection",
        "prompt_leak",
        "jailbreak",
        "exfiltration",
        "pair",
        "crescendo",
    } <= names["probe"]
    assert {
        "canary",
        "refusal",
        "compliance",
        "substring",
        "regex",
        "exfil_url",
        "tool_exfil",
        "llm_judge",
    } <= names["detector"]
    assert {
        "base64",
        "hex",
        "rot13",
        "leetspeak",
        "homoglyphs",
        "zero_width",
        "payload_split",
        "low_resource_cipher",
    } <= names["transform"]
    for cls in PLUGINS:
        assert any(c.name.startswith("efficacy_floor") for c in checks_for(cls)), cls.name

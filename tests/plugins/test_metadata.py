"""Plugin metadata as validated data: every plugin's metadata validates, bad metadata is
refused at registration (and its module reported as broken), aliases resolve with a
warning, and the default assessment suite is read from the plugins' own metadata."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from advlab import registry
from advlab.assess.config import parse_config
from advlab.assess.task_evasion import EvasionKind
from advlab.attacks.evasion.base import EvasionAttack
from advlab.cli import app
from advlab.plugin import metadata
from advlab.registry import all_plugins, get_attack, register_attack
from advlab.taxonomy import FAMILIES, TAGS

ALL = [cls for table in all_plugins().values() for cls in table.values()]


def test_the_registry_holds_every_family() -> None:
    counts = {f: len(t) for f, t in all_plugins().items()}
    for family in ("evasion", "extraction", "inference", "poisoning", "defense"):
        assert counts[family] >= 5, counts
    assert set(counts) == set(FAMILIES)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: f"{c.family}-{c.name}")
def test_metadata_validates_and_covers_the_axes(cls: type[Any]) -> None:
    meta = metadata(cls)
    assert meta.name == cls.name and meta.family in FAMILIES
    assert meta.link and meta.summary
    assert len(meta.tag("threat")) >= 1 and len(meta.tag("modality")) == 1
    if meta.family != "defense":
        assert len(meta.tag("access")) == 1
    if meta.family == "evasion":
        assert meta.tag("norm") == set(cls.norms)
        assert ("minimal_norm" in meta.flags) == ("eps" in cls._param_names() and cls().eps is None)
    for axis, values in TAGS.items():
        assert meta.tag(axis) <= set(values)


def _attack(**attrs: Any) -> type[EvasionAttack]:
    body = {
        "name": "throwaway_meta",
        "paper": "A. Author 2020, arXiv:2001.00001",
        "summary": "a throwaway attack",
        "_perturb": lambda self, target, x, y, **kw: x,
        **attrs,
    }
    return type("ThrowawayMeta", (EvasionAttack,), body)


@pytest.mark.parametrize(
    ("attrs", "problem"),
    [
        ({"name": "Bad-Name"}, "not snake_case"),
        ({"tags": frozenset({"colour:red"})}, "unknown tag"),
        ({"flags": frozenset({"fast"})}, "unknown flag"),
        ({"paper": "A. Author 2020, no link"}, "link"),
        ({"summary": ""}, "summary"),
        ({"expected_failures": {"efficacy": " "}}, "needs a reason"),
    ],
)
def test_bad_metadata_is_refused_at_registration(attrs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as err:
        register_attack(_attack(**attrs))
    assert "ThrowawayMeta" in str(err.value) and "\n" not in str(err.value)
    assert "throwaway_meta" not in registry.ATTACKS and "bad-name" not in registry.ATTACKS


def test_a_module_with_bad_metadata_is_reported_broken(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "bad_meta_plugin.py").write_text(
        "from advlab.attacks.evasion.base import EvasionAttack\n"
        "from advlab.registry import register_attack\n"
        "@register_attack\n"
        "class Bad(EvasionAttack):\n"
        "    name = 'bad_meta'\n"
        "    paper = 'no link here'\n"
        "    summary = 'bad'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "BROKEN", {})
    assert registry._try_import("bad_meta_plugin") is None
    assert "link" in registry.BROKEN["bad_meta_plugin"]
    with pytest.raises(Exception, match="bad_meta_plugin could not be loaded"):
        get_attack("bad_meta")
    sys.modules.pop("bad_meta_plugin", None)


def test_a_deprecated_alias_resolves_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match="apgd_t"):
        cls = get_attack("apgd-t")
    assert cls.name == "apgd_t"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_attack("apgd_t") is cls


@pytest.fixture
def suite_plugin() -> Iterator[type[EvasionAttack]]:
    cls = _attack(suite_params={"labels": {"eps": 0.3}})
    cls.requires = registry.ATTACKS["hopskipjump"].requires
    register_attack(cls)
    try:
        yield cls
    finally:
        registry.unregister("evasion", "throwaway_meta")


def _cfg(access: str) -> Any:
    knowledge = "white-box" if access == "gradients" else "black-box"
    return parse_config(
        {
            "name": "suite",
            "targets": [{"kind": "model", "name": "t", "path": "m.safetensors"}],
            "data": {"dataset": "digits", "n": 8},
            "threat_model": {"access": access, "knowledge": knowledge},
        }
    )


def test_the_default_suite_is_read_from_metadata(suite_plugin: type[EvasionAttack]) -> None:
    labels = EvasionKind().default_suite(_cfg("labels"))
    assert ("throwaway_meta", {"eps": 0.3}) in labels
    assert all(get_attack(n).requires.name == "LABELS" for n, _ in labels)
    white = [n for n, _ in EvasionKind().default_suite(_cfg("gradients"))]
    assert "throwaway_meta" not in white  # it only declared the labels level
    assert white[0] == "fgsm"  # single-step first
    assert {"pgd", "apgd", "square"} <= set(white)


def test_list_json_carries_every_plugin_and_filters_by_family() -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["list", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    names = {(p["family"], p["name"]) for p in data["plugins"]}
    assert {(c.family, c.name) for c in ALL} == names
    apgd_t = next(p for p in data["plugins"] if p["name"] == "apgd_t")
    assert apgd_t["aliases"] == ["apgd-t"] and "iterative" in apgd_t["flags"]
    res = runner.invoke(app, ["list", "--family", "inference", "--json"])
    assert {p["family"] for p in json.loads(res.stdout)["plugins"]} == {"inference"}
    res = runner.invoke(app, ["list", "nonsense"])
    assert res.exit_code != 0

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from advlab.assess.config import json_schema, load_config, parse_config
from advlab.assess.runner import check_config
from advlab.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _minimal(**kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"target": {"kind": "model", "path": "m.safetensors"}}
    d.update(kw)
    return d


def test_minimal_config_gets_defaults_and_names() -> None:
    cfg = parse_config(_minimal(threat_model={"perturbation": {"eps": ["8/255", 0.1]}}))
    assert cfg.targets[0].name == "m"
    assert cfg.version == 1
    assert cfg.threat_model.perturbation.eps == pytest.approx([8 / 255, 0.1])
    assert cfg.attacks is None and cfg.data.dataset == "digits"


@pytest.mark.parametrize(
    ("data", "path", "expected"),
    [
        ({}, "targets", "required field is missing"),
        (
            _minimal(threat_model={"perturbation": {"eps": [0.1, -0.2]}}),
            "threat_model.perturbation.eps",
            "item 1: eps must be > 0",
        ),
        (_minimal(threat_model={"perturbaton": {}}), "threat_model.perturbaton", "unknown field"),
        ({"targets": [{"kind": "tensorflow", "path": "x"}]}, "targets.0", "tensorflow"),
        (
            {"targets": [{"kind": "python", "entry": "os.system"}]},
            "targets.0.entry",
            "expected 'module:function'",
        ),
        (
            {"targets": [{"kind": "http", "url": "ftp://x", "input_shape": [4], "num_classes": 2}]},
            "targets.0.url",
            "http(s) URL",
        ),
        (_minimal(data={"n": 0}), "data.n", "greater than or equal to 1"),
        (
            _minimal(threat_model={"knowledge": "black-box", "access": "gradients"}),
            "threat_model",
            "cannot grant gradient access",
        ),
        (
            _minimal(gates=["robust_accuracy(linf, 0.1) >= 0.7", "robust_acc >= 1"]),
            "gates",
            "item 1",
        ),
        (
            _minimal(threat_model={"perturbation": {"norm": "l3"}}),
            "threat_model.perturbation.norm",
            "'linf', 'l2' or 'l1'",
        ),
    ],
)
def test_errors_name_the_field_path(data: dict[str, Any], path: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    msg = str(err.value)
    assert f"{path}:" in msg, msg
    assert expected in msg, msg


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\ntargets:\n  - kind: model\n    path: [unclosed\n")
    with pytest.raises(ConfigError, match=r"line \d+"):
        load_config(p)


def test_registry_checks_name_paths_and_list_valid_names() -> None:
    cfg = parse_config(_minimal(attacks=[{"name": "pgdd"}]))
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    assert "attacks.0.name" in str(err.value)
    assert "pgd" in str(err.value) and "fgsm" in str(err.value)

    cfg = parse_config(_minimal(attacks=[{"name": "pgd", "params": {"stepz": 3}}]))
    with pytest.raises(ConfigError, match=r"attacks\.0\.params\.stepz: unknown parameter"):
        check_config(cfg)

    cfg = parse_config(
        _minimal(threat_model={"access": "scores", "knowledge": "black-box"}, attacks=["fgsm"])
    )
    with pytest.raises(ConfigError, match=r"attacks\.0\.name: fgsm needs gradients access"):
        check_config(cfg)

    cfg = parse_config(_minimal(defenses=[{"name": "no-such-defense"}]))
    with pytest.raises(ConfigError, match=r"defenses\.0\.name: unknown defense"):
        check_config(cfg)


def test_duplicate_labels_and_unknown_defense_target_rejected() -> None:
    with pytest.raises(ConfigError, match="duplicate attack label"):
        parse_config(_minimal(attacks=["pgd", "pgd"]))
    with pytest.raises(ConfigError, match="unknown target 'nope'"):
        parse_config(_minimal(defenses=[{"name": "x", "targets": ["nope"]}]))


def test_published_schema_is_current() -> None:
    published = json.loads((ROOT / "docs" / "config.schema.json").read_text())
    assert published == json_schema()


def test_example_config_validates() -> None:
    cfg = load_config(ROOT / "examples" / "assess-digits.yaml")
    check_config(cfg)
    assert len(cfg.targets) == 2 and cfg.gates

"""Configs as an attacker writes them: alias bombs, python entry points, escaping names."""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from robustness_artifacts import _laughs  # noqa: E402
from robustness_helpers import run_in_process  # noqa: E402

from advlab.errors import ConfigError, OutputPathError  # noqa: E402

LAUGHS_PEAK_BYTES = 64 * 2**20
"""Memory a refused alias bomb may use: far below the gigabytes an expanded one takes."""


def test_billion_laughs_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    from advlab.assess.config import MAX_ALIASES, load_config

    path = tmp_path / "laughs.yaml"
    path.write_text(_laughs(9))
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match=f"more than {MAX_ALIASES} YAML aliases"):
            load_config(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < LAUGHS_PEAK_BYTES


def test_a_few_aliases_still_load(tmp_path: Path) -> None:
    from advlab.assess.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text(
        "version: 1\ntargets:\n  - {kind: reference, name: a, train: &t {epochs: 2}}\n"
        "  - {kind: reference, name: b, train: *t}\n"
    )
    cfg = load_config(path)
    assert [t.train for t in cfg.targets] == [{"epochs": 2}, {"epochs": 2}]


@pytest.mark.parametrize(
    "entry", ["os:system", "subprocess:run", "builtins:exec", "os.path:exists", "_io:open"]
)
def test_dangerous_entry_modules_are_refused_and_never_run(entry: str, tmp_path: Path) -> None:
    canary = tmp_path / "PWNED"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "version: 1\ntargets:\n"
        f"  - {{kind: python, entry: '{entry}', kwargs: {{command: 'touch {canary}'}}}}\n"
    )
    for command in ("validate", "assess"):
        result = run_in_process([command, str(cfg)], tmp_path)
        assert result.code == 2
        assert "is refused" in result.stderr
    assert not canary.exists()


def test_validate_imports_python_targets_only_with_probe(tmp_path: Path) -> None:
    canary = tmp_path / "IMPORTED"
    (tmp_path / "mytarget.py").write_text(
        f"open({str(canary)!r}, 'w').write('x')\n\ndef make():\n    return 42\n"
    )
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "version: 1\ntargets:\n  - {kind: python, entry: 'mytarget:make', pythonpath: '.'}\n"
    )
    plain = run_in_process(["validate", str(cfg)], tmp_path)
    assert plain.code == 0, plain.stderr
    assert "will be imported" in plain.stderr and "--probe" in plain.stderr
    assert not canary.exists()
    probed = run_in_process(["validate", str(cfg), "--probe"], tmp_path)
    assert canary.exists()
    assert probed.code == 2 and "expected an advlab Target" in probed.stderr
    sys.modules.pop("mytarget", None)


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "..", ".hidden", "a/b", "-rf", ""])
def test_run_names_are_one_safe_component(name: str) -> None:
    from advlab.paths import safe_name

    with pytest.raises(OutputPathError):
        safe_name(name)


def test_output_file_rules(tmp_path: Path) -> None:
    from advlab.paths import output_file

    (tmp_path / "afile").write_text("x")
    assert output_file(tmp_path / "m", suffix=".safetensors") == tmp_path / "m.safetensors"
    assert output_file(tmp_path / "new" / "deeper" / "r.json") == tmp_path / "new/deeper/r.json"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    for bad in (tmp_path, tmp_path / "afile" / "x.json"):
        with pytest.raises(OutputPathError):
            output_file(bad, suffix=".safetensors")

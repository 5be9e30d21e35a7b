"""Plugin discovery: third-party plugins through the ``advlab.plugins`` entry-point group, and
broken plugin modules reported instead of silently disappearing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN = textwrap.dedent(
    '''
    """A throwaway third-party evasion attack (returns its input: enough to be discovered)."""
    from advlab.attacks.evasion.base import EvasionAttack
    from advlab.registry import register_attack


    @register_attack
    class ThrowawayNoise(EvasionAttack):
        name = "throwaway_noise"
        paper = "https://example.org/throwaway"
        summary = "a throwaway plugin used by the discovery test"

        def __init__(self, *, norm="linf", eps=0.1, seed=0, batch_size=64):
            self.norm, self.eps, self.seed, self.batch_size = norm, eps, seed, batch_size

        def _perturb(self, target, x, y, *, eps, targeted, generator):
            return x
    '''
)


def _install(tmp: Path) -> dict[str, str]:
    (tmp / "throwaway_plugin.py").write_text(PLUGIN)
    (tmp / "broken_plugin.py").write_text("import module_that_does_not_exist_anywhere\n")
    dist = tmp / "throwaway_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: throwaway-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[advlab.plugins]\nthrowaway = throwaway_plugin\nbroken = broken_plugin\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp), *sys.path])
    return env


def test_entry_point_plugin_is_listed_and_broken_one_is_reported(tmp_path: Path) -> None:
    env = _install(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "advlab.cli", "list", "attacks"],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "250"},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "throwaway_noise" in out.stdout
    assert "broken_plugin" in out.stdout and "module_that_does_not_exist" in out.stdout


def test_lookup_names_the_broken_module(tmp_path: Path) -> None:
    env = _install(tmp_path)
    code = (
        "from advlab.registry import get_attack\n"
        "try:\n    get_attack('nope')\nexcept Exception as e:\n    print(e)\n"
        "print(get_attack('throwaway_noise').__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "broken_plugin could not be loaded" in out.stdout
    assert "ThrowawayNoise" in out.stdout


def test_a_plugin_missing_an_optional_dependency_names_the_extra(
    tmp_path: Path, monkeypatch
) -> None:
    from advlab import registry

    (tmp_path / "needs_onnx_plugin.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'onnxruntime'\", name='onnxruntime')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "BROKEN", {})
    assert registry._try_import("needs_onnx_plugin") is None
    assert "pip install 'advlab[onnx]'" in registry.BROKEN["needs_onnx_plugin"]
    assert registry.extra_for("opacus") == "privacy" and registry.extra_for("ray.util") == "ray"
    assert registry.extra_for("no_such_package_anywhere") is None

"""A third-party plugin installed through the ``advlab.plugins`` entry point is one file and
nothing else: ``advlab list``, ``advlab attack``, ``advlab assess`` and the conformance kit
all see it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

PLUGIN = textwrap.dedent(
    '''
    """One signed-gradient step of size eps (a throwaway third-party evasion attack).

    Goodfellow et al. 2015, arXiv:1412.6572.
    """
    from advlab.access import Access
    from advlab.attacks.evasion.base import EvasionAttack
    from advlab.registry import register_attack


    @register_attack
    class ThrowawayStep(EvasionAttack):
        name = "throwaway_step"
        requires = Access.GRADIENTS
        norms = ("linf",)
        paper = "Goodfellow et al. 2015, arXiv:1412.6572"
        link = "arXiv:1412.6572"
        summary = "One signed-gradient step (a throwaway third-party plugin)."
        tags = frozenset({"threat:evasion", "access:gradients", "norm:linf", "modality:any"})

        def __init__(self, *, norm="linf", eps=0.1, seed=0, batch_size=256):
            self.norm = norm
            self.eps = eps
            self.seed = seed
            self.batch_size = batch_size

        def _perturb(self, target, x, y, *, eps, targeted, generator):
            import torch.nn.functional as F

            sign = -1.0 if targeted else 1.0
            grad, _ = target.gradient(x, lambda z: sign * F.cross_entropy(z, y, reduction="sum"))
            return x + eps * grad.sign()
    '''
)


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("site")
    (tmp / "throwaway_step_plugin.py").write_text(PLUGIN)
    dist = tmp / "throwaway_step_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: throwaway-step-plugin\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text("[advlab.plugins]\nstep = throwaway_step_plugin\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp), *sys.path])
    env["COLUMNS"] = "250"
    return env


def advlab(env: dict[str, str], *args: str, cwd: Path | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "advlab.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def test_listed(plugin_env: dict[str, str]) -> None:
    out = advlab(plugin_env, "list", "attacks")
    assert out.returncode == 0, out.stderr
    assert "throwaway_step" in out.stdout


def test_attack_cli_runs_it(plugin_env: dict[str, str], digits_bundle: Any, tmp_path: Path) -> None:
    out = advlab(
        plugin_env,
        "attack",
        str(digits_bundle.path),
        "digits",
        "--attack",
        "throwaway_step",
        "--eps",
        "0.3",
        "--n",
        "30",
        "--json",
        str(tmp_path / "r.json"),
        "-q",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["attack"] == "throwaway_step"
    (one,) = data["results"]  # one eps
    assert one["summary"]["robust_accuracy"] < one["summary"]["clean_accuracy"]


def test_assessment_runs_it(plugin_env: dict[str, str], digits_bundle: Any, tmp_path: Path) -> None:
    cfg = {
        "version": 1,
        "name": "entry-point-plugin",
        "targets": [{"kind": "model", "name": "tiny", "path": str(digits_bundle.path)}],
        "data": {"dataset": "digits", "split": "test", "n": 30, "seed": 0},
        "threat_model": {
            "goal": "evasion",
            "access": "gradients",
            "perturbation": {"norm": "linf", "eps": [0.3]},
        },
        "attacks": ["throwaway_step"],
        "seed": 0,
    }
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    out = advlab(plugin_env, "assess", str(tmp_path / "cfg.json"), "--out", str(tmp_path / "run"))
    assert out.returncode in (0, 1), out.stdout + out.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    ran = [
        r
        for r in results["records"]
        if r["task"]["attack"] == "throwaway_step" and r["status"] == "ok"
    ]
    assert ran, results["records"]


def test_kit_passes_it(plugin_env: dict[str, str]) -> None:
    code = (
        "from advlab.registry import get_attack\n"
        "from advlab.testing import check_plugin\n"
        "r = check_plugin(get_attack('throwaway_step'))\n"
        "print(sorted(r.passed))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=plugin_env, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "efficacy_floor" in out.stdout and "respects_bounds_and_eps" in out.stdout

"""The tutorials: built from their jupytext sources and executed with nbmake in CI mode
(``ADVLAB_TUTORIAL_MODE=ci``: tiny sizes); the student build strips the solutions."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "docs" / "tutorials"


def _build_module() -> Any:
    spec = importlib.util.spec_from_file_location("tutorial_build", TUTORIALS / "build.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SOURCES = [p.name for p in _build_module().sources()]


def test_at_least_one_tutorial_per_module() -> None:
    assert sorted({s[:2] for s in SOURCES}) == ["00", "01", "02", "03", "04", "05", "06"]
    assert "01b_malware.py" in SOURCES  # malware-classifier evasion, module 1's second part


@pytest.mark.parametrize("name", SOURCES)
def test_tutorial_runs_in_ci_mode(name: str, tmp_path: Path) -> None:
    pytest.importorskip("nbmake")
    pytest.importorskip("jupytext")
    nb = _build_module().build(TUTORIALS / name, tmp_path, student=False)
    env = {
        **os.environ,
        "ADVLAB_TUTORIAL_MODE": "ci",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        "MPLBACKEND": "Agg",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbmake",
            "--nbmake-timeout=600",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            str(nb),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout


def test_student_build_strips_the_solutions(tmp_path: Path) -> None:
    pytest.importorskip("jupytext")
    build = _build_module()
    for name in SOURCES:
        full = json.loads(
            build.build(TUTORIALS / name, tmp_path / "full", student=False).read_text()
        )
        student = json.loads(
            build.build(TUTORIALS / name, tmp_path / "student", student=True).read_text()
        )
        tags = [set(c["metadata"].get("tags", [])) for c in full["cells"]]
        solutions = ["".join(c["source"]) for c, t in zip(full["cells"], tags) if "solution" in t]
        assert solutions, f"{name} has no exercise solution"
        text = json.dumps(student)
        for sol in solutions:
            assert "".join(sol.split())[:80] not in "".join(text.split()), (
                f"{name} leaks a solution"
            )
        n_ex = sum("exercise" in c["metadata"].get("tags", []) for c in student["cells"])
        assert n_ex == len(solutions)
        assert not any("ci-only" in c["metadata"].get("tags", []) for c in student["cells"])

"""The scripts in examples/ run (with --quick) and print what they promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from snippets import ROOT

EXPECT = {
    "attack_pytorch_model.py": ["clean accuracy", "PGD", "AutoAttack", "Square broke"],
    "audit_sklearn_privacy.py": ["audited model", "AUC", "TPR at 1% FPR"],
    "scan_and_convert_checkpoint.py": [
        "scan checkpoint.pt: 0 finding(s), exit 0",
        "dropped optimizer: optimizer state",
        "dropped epoch: int",
        "load_model refused it",
    ],
}
SCRIPTS = sorted(p.name for p in (ROOT / "examples").glob("*.py"))


def test_every_example_is_tested() -> None:
    assert SCRIPTS == sorted(EXPECT)


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_runs(name: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    args = [sys.executable, str(ROOT / "examples" / name), "--quick"]
    if name.startswith("scan"):
        args += ["--out", str(tmp_path / "files")]
    proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for text in EXPECT[name]:
        assert text in proc.stdout, f"{text!r} not in:\n{proc.stdout}"

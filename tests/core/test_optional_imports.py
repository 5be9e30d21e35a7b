"""The core import path (the CLI with every command mounted, plugin discovery, attacks,
assessments, reports, the scanner) imports no optional dependency, so a core install works.
The install matrix (.ci/install_matrix.sh, `make install-check`) checks it on real installs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]

# import name of every optional distribution (extras, not core dependencies)
IMPORT_NAMES = {
    "onnxruntime": "onnxruntime", "onnx": "onnx", "httpx": "httpx", "pillow": "PIL",
    "fastapi": "fastapi", "uvicorn": "uvicorn", "py7zr": "py7zr", "h5py": "h5py",
    "opacus": "opacus", "ray": "ray", "cma": "cma", "mkdocs": "mkdocs",
    "mkdocs-material": "material", "mkdocstrings": "mkdocstrings", "keras": "keras",
    "tensorflow-cpu": "tensorflow", "tensorflow": "tensorflow", "transformers": "transformers",
    "pymoo": "pymoo", "lief": "lief",
}  # fmt: skip

CODE = """
import json, sys
import advlab, advlab.cli, advlab.attacks.evasion, advlab.assess, advlab.report
import advlab.report.html, advlab.serialization.scan, advlab.models, advlab.data, advlab.targets
from advlab.cli import _mount_plugins
from advlab.registry import discover
_mount_plugins()
discover()
print(json.dumps(sorted(sys.modules)))
"""


def _optional_imports() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {
        d.split(">")[0].split("=")[0].split("[")[0].strip().lower() for d in meta["dependencies"]
    }
    names = set()
    for extra, deps in meta["optional-dependencies"].items():
        if extra == "dev":
            continue
        for d in deps:
            dist = d.split(";")[0].split(">")[0].split("=")[0].split("[")[0].strip().lower()
            if dist not in core:
                assert dist in IMPORT_NAMES, f"add the import name of {dist} to IMPORT_NAMES"
                names.add(IMPORT_NAMES[dist])
    return names


def test_core_import_path_imports_no_optional_dependency() -> None:
    optional = _optional_imports()
    assert {"PIL", "onnx", "httpx", "fastapi", "ray", "opacus"} <= optional
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=240
    )
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = {m.split(".")[0] for m in json.loads(out.stdout.splitlines()[-1])}
    assert not loaded & optional, f"the core import path imports {sorted(loaded & optional)}"

"""Every command refuses every bad input of the table in :mod:`robustness_cases` with exit 2 or
4, exactly one line on stderr, no traceback and no file written outside its output folder.

Cases run in process through the real entry point (:func:`advlab.cli.main`) with the
expensive entry points guarded (a case that reaches training, an attack, an assessment or a
server fails); a sample runs in a subprocess to check that the in-process results are the
real ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from robustness_cases import CASES, Case
from robustness_helpers import WorkDone, resolve, run_in_process, tree

ESCAPES = [Path("/tmp/advlab-escape"), Path("/tmp.safetensors"), Path("/tmp.json")]


def check(case: Case, code: int, stdout: str, stderr: str) -> None:
    assert code in case.codes, f"exit {code}; stderr: {stderr!r}; stdout: {stdout[-300:]!r}"
    assert "Traceback" not in stderr + stdout
    lines = stderr.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].strip(), f"stderr is not one line: {stderr!r}"


def test_the_table_covers_every_command() -> None:
    from advlab.cli import _mount_plugins, app

    _mount_plugins()
    commands = {c.name or c.callback.__name__ for c in app.registered_commands}  # type: ignore[union-attr]
    covered = {c.argv[0] for c in CASES}
    assert commands - covered == set(), f"commands without bad-input cases: {commands - covered}"
    assert len(CASES) >= 162
    assert len({c.id for c in CASES}) == len(CASES)


def _params() -> list:
    """Every case; a known failure (owned by another module) is a strict xfail, so the day it
    is fixed the case must leave the known list."""
    return [
        pytest.param(
            c,
            id=c.id,
            marks=[pytest.mark.xfail(reason=c.known_failure, strict=True)]
            if c.known_failure
            else [],
        )
        for c in CASES
    ]


@pytest.mark.parametrize("case", _params())
@pytest.mark.usefixtures("guarded")
def test_bad_input(case: Case, inputs: Path, tmp_path: Path, tmp_path_factory) -> None:
    base = tmp_path_factory.getbasetemp()
    work = tmp_path / "work"
    work.mkdir()
    before = tree(base)
    escapes_before = {p for p in ESCAPES if p.exists()}
    try:
        result = run_in_process(resolve(case.argv, inputs), work)
    except WorkDone:
        pytest.fail(f"{case.id}: the bad input was not refused before the work started")
    check(case, result.code, result.stdout, result.stderr)
    allowed = str(Path(tmp_path.relative_to(base)) / "work" / "outputs")
    new = {p for p in tree(base) - before if not p.startswith(allowed)}
    new.discard(str(tmp_path.relative_to(base)))  # created by pytest
    assert new == set(), f"files written outside the output folder: {sorted(new)[:5]}"
    assert {p for p in ESCAPES if p.exists()} == escapes_before


SUBPROCESS_SAMPLE = [
    "attack--eps=nan",
    "train--out-dir",
    "attack-model-truncated",
    "validate-config-billion_laughs",
    "assess-config-name_escape",
    "top--bogus",
]


@pytest.mark.parametrize("case_id", SUBPROCESS_SAMPLE)
def test_in_process_matches_a_real_process(case_id: str, inputs: Path, tmp_path: Path) -> None:
    """The real ``advlab`` process gives the same exit code and stderr as the in-process run."""
    case = next(c for c in CASES if c.id == case_id)
    argv = resolve(case.argv, inputs)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    inner = run_in_process(argv, tmp_path / "a")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from advlab.cli import main; main(sys.argv[1:])",
            *argv,
        ],
        cwd=tmp_path / "b",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    check(case, proc.returncode, proc.stdout, proc.stderr)
    assert (proc.returncode, proc.stderr.replace(str(tmp_path / "b"), "")) == (
        inner.code,
        inner.stderr.replace(str(tmp_path / "a"), ""),
    )

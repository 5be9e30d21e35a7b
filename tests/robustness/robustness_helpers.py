"""Helpers of the command-line robustness suite: an in-process runner and file trees."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def resolve(argv: tuple[str, ...], inputs: Path) -> list[str]:
    """``@name`` -> the absolute path of ``inputs/name``."""
    return [str(inputs / a[1:]) if a.startswith("@") else a for a in argv]


class WorkDone(BaseException):
    """Raised by the guards: a bad-input case reached the real work."""


def run_in_process(argv: list[str], cwd: Path) -> Outcome:
    """``advlab ARGV`` in this process (the real entry point, ``advlab.cli.main``)."""
    from advlab.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main(argv)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(old)
    return Outcome(code, out.getvalue(), err.getvalue())


def tree(root: Path) -> set[str]:
    """Every path under ``root`` (files and folders), relative."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}

"""Every ```python block of the README and docs/*.md runs, page by page, in a fresh
interpreter inside a temporary folder (one namespace per page, in reading order)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from snippets import ALLOWED_REASONS, PAGES, ROOT, page_script, snippets

RUNNABLE = [p for p in PAGES if page_script(p)[1]]


def test_opt_outs_are_only_for_network_or_gpu() -> None:
    for page in PAGES:
        for s in snippets(page):
            if s.skip_reason is not None:
                assert ALLOWED_REASONS.search(s.skip_reason), (
                    f"{page.name}:{s.line} opts out for {s.skip_reason!r}; only a block that "
                    "needs a network service or a GPU may"
                )


@pytest.mark.parametrize("page", RUNNABLE, ids=[p.name for p in RUNNABLE])
def test_page_snippets_run(page: Path, tmp_path: Path) -> None:
    script, run = page_script(page)
    path = tmp_path / f"{page.stem}_snippets.py"
    path.write_text(script, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "ADVLAB_CACHE": os.environ.get("ADVLAB_CACHE", str(ROOT / ".advlab-cache")),
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }
    proc = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    where = [ln for ln in proc.stdout.splitlines() if ln.startswith("--- ")]
    assert proc.returncode == 0, (
        f"{where[-1][4:] if where else page.name} failed:\n{proc.stderr[-3000:]}"
    )
    assert len(where) == len(run)  # every block ran

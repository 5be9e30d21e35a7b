"""Reports: renderings of an assessment run directory (never re-run attacks, never write
into an existing run directory).

``results.json`` is the schema-versioned source of truth (:mod:`advlab.assess.rundir`). The
runner renders the config's reports into the run directory when the run ends
(:func:`write_reports`); afterwards :func:`render` renders any format from the stored
results to a file or a string and refuses to overwrite a file of the run directory.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from advlab.assess.rundir import RunDirError, atomic_write, json_default, load_results
from advlab.errors import ConfigError

log = logging.getLogger(__name__)

FORMATS: dict[str, str] = {
    "html": "report.html",
    "md": "report.md",
    "json": "results.json",
    "junit": "junit.xml",
    "sarif": "report.sarif",
}


def render_text(results: dict[str, Any], fmt: str, *, base: Path | None = None) -> str:
    """One report format as text."""
    if fmt == "html":
        from advlab.report.html import render_html

        return render_html(results)
    if fmt == "md":
        from advlab.report.markdown import render_markdown

        return render_markdown(results)
    if fmt == "json":
        return json.dumps(results, indent=1, default=json_default)
    if fmt == "junit":
        from advlab.report.junit import render_junit

        return render_junit(results)
    if fmt == "sarif":
        from advlab.report.sarif import render_sarif

        return render_sarif(results, base=base)
    raise ConfigError(f"unknown report format {fmt!r}; expected one of: {', '.join(FORMATS)}")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def render(
    run_dir: str | Path,
    fmt: str,
    *,
    out: str | Path,
    results: dict[str, Any] | None = None,
) -> Path:
    """Render one format of the run in ``run_dir`` to the file ``out`` and return its path.

    Reads the run directory only: an existing file inside it is never overwritten
    (:class:`~advlab.assess.rundir.RunDirError`); a new file there is allowed.
    """
    run_dir = Path(run_dir)
    path = Path(out)
    if path.exists() and _inside(path, run_dir):
        raise RunDirError(
            f"{path} belongs to the run directory {run_dir}, which reports never modify; "
            "write the report elsewhere"
        )
    if results is None:
        results = load_results(run_dir)
    text = render_text(results, fmt, base=run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)
    return path


def write_reports(
    run_dir: str | Path, formats: Sequence[str], results: dict[str, Any]
) -> dict[str, Path]:
    """The runner's renderings, written into the run directory as the run ends
    (``results.json`` itself is written by the runner, so ``json`` writes nothing)."""
    run_dir = Path(run_dir)
    out = {}
    for fmt in formats:
        path = run_dir / FORMATS[fmt]
        if fmt != "json":
            atomic_write(path, render_text(results, fmt, base=run_dir))
        out[fmt] = path
    return out


__all__ = ["FORMATS", "render", "render_text", "write_reports"]

"""Reports: renderings of an assessment run directory (never re-run attacks).

``results.json`` is the schema-versioned source of truth; :func:`render` writes
``report.html`` (self-contained), ``report.md``, ``junit.xml`` or ``report.sarif`` from it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
        return json.dumps(results, indent=1, default=str)
    if fmt == "junit":
        from advlab.report.junit import render_junit

        return render_junit(results)
    if fmt == "sarif":
        from advlab.report.sarif import render_sarif

        return render_sarif(results, base=base)
    from advlab.errors import ConfigError

    raise ConfigError(f"unknown report format {fmt!r}; expected one of: {', '.join(FORMATS)}")


def render(
    run_dir: str | Path,
    fmt: str,
    *,
    out: str | Path | None = None,
    results: dict[str, Any] | None = None,
) -> Path:
    """Write one format into the run directory (or ``out``) and return its path."""
    from advlab.assess.runner import atomic_write, load_results

    run_dir = Path(run_dir)
    if results is None:
        results = load_results(run_dir)
    text = render_text(results, fmt, base=run_dir)
    path = Path(out) if out is not None else run_dir / FORMATS[fmt]
    if fmt == "json" and out is None:
        return path  # results.json is written by the runner itself
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)
    return path


def render_all(
    run_dir: str | Path, formats: Sequence[str] | None = None, results: dict[str, Any] | None = None
) -> dict[str, Path]:
    from advlab.assess.runner import load_results

    if results is None:
        results = load_results(run_dir)
    return {f: render(run_dir, f, results=results) for f in (formats or list(FORMATS))}


__all__ = ["FORMATS", "render", "render_all", "render_text"]

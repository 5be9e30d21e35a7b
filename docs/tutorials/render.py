"""Execute the tutorials and write their rendered output as Markdown pages for the docs site.

    python docs/tutorials/render.py                       # every tutorial, full mode
    python docs/tutorials/render.py --mode ci 01_evasion  # one tutorial, CI sizes

Each page (``docs/tutorials/rendered/NN_name.md``) holds the tutorial's Markdown, its code,
and what the code printed and drew (figures as PNG files beside the page). Exercise solutions
are folded into a collapsed "Solution" block; cells tagged ``ci-only`` (checks that a
solution worked) are left out. Every page records the source's hash: the test suite checks
that each page was rendered from the current source, so the site never shows a stale run.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "rendered"
HASH_PREFIX = "<!-- rendered from "
LOG = logging.getLogger("render")


def source_hash(src: Path) -> str:
    """The SHA-256 of a tutorial source's bytes (recorded on its rendered page)."""
    return hashlib.sha256(src.read_bytes()).hexdigest()


def recorded_hash(page: Path) -> str | None:
    """The source hash a rendered page records, or None when it records none."""
    for line in page.read_text(encoding="utf-8").splitlines()[:3]:
        if line.startswith(HASH_PREFIX):
            return line[len(HASH_PREFIX) :].split()[1]
    return None


def _fence(text: str, lang: str = "") -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}\n"


def _outputs(cell: Any, stem: str, index: int, images: Path) -> list[str]:
    parts: list[str] = []
    stream = "".join(
        o.get("text", "") for o in cell.get("outputs", []) if o["output_type"] == "stream"
    )
    if stream.strip():
        parts.append(_fence(stream, "text"))
    for k, out in enumerate(cell.get("outputs", [])):
        data = out.get("data", {})
        if out["output_type"] not in ("execute_result", "display_data"):
            continue
        if "image/png" in data:
            name = f"{stem}_{index:02d}_{k}.png"
            (images / name).write_bytes(base64.b64decode(data["image/png"]))
            parts.append(f"![output of cell {index}](images/{name})\n")
        elif "text/plain" in data and out["output_type"] == "execute_result":
            parts.append(_fence(data["text/plain"], "text"))
    return parts


def to_markdown(nb: Any, stem: str, *, mode: str, digest: str, seconds: float) -> str:
    """The executed notebook ``nb`` as a Markdown page."""
    images = OUT / "images"
    images.mkdir(parents=True, exist_ok=True)
    for old in images.glob(f"{stem}_*.png"):
        old.unlink()
    lines = [
        f"{HASH_PREFIX}{stem}.py {digest} -->",
        "",
    ]
    header_done = False
    for i, cell in enumerate(nb.cells):
        tags = set(cell.get("metadata", {}).get("tags", []))
        if "ci-only" in tags:
            continue
        if cell.cell_type == "markdown":
            lines.append(cell.source.rstrip() + "\n")
            if not header_done:
                note = (
                    f'!!! info "Rendered output"\n    Executed in {mode} mode in {seconds:.0f} s '
                    f"on the development machine (CPU); the source is "
                    f"`docs/tutorials/{stem}.py` and `make tutorials` builds the notebooks.\n"
                )
                lines.append(note)
                header_done = True
            continue
        if cell.cell_type != "code":
            continue
        body = [_fence(cell.source, "python"), *_outputs(cell, stem, i, images)]
        if "solution" in tags:
            indented = "\n".join(("    " + ln) if ln else "" for ln in "\n".join(body).splitlines())
            lines.append('??? example "Solution"\n' + indented + "\n")
        else:
            lines.extend(body)
    return "\n".join(lines).rstrip() + "\n"


def render(src: Path, *, mode: str, timeout: int) -> Path:
    """Execute ``src`` in ``mode`` ("full" or "ci") and write its page; return the page."""
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    os.environ["ADVLAB_TUTORIAL_MODE"] = mode
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": work}}
        ).execute()
    seconds = time.monotonic() - start
    OUT.mkdir(parents=True, exist_ok=True)
    page = OUT / f"{src.stem}.md"
    page.write_text(
        to_markdown(nb, src.stem, mode=mode, digest=source_hash(src), seconds=seconds),
        encoding="utf-8",
    )
    LOG.info("%s: %.0f s -> %s", src.name, seconds, page)
    return page


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="tutorial stems (default: all)")
    ap.add_argument("--mode", choices=["full", "ci"], default="full")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sources = sorted(HERE.glob("[0-9][0-9]*_*.py"))
    if args.names:
        sources = [s for s in sources if s.stem in args.names]
        missing = set(args.names) - {s.stem for s in sources}
        if missing:
            sys.stderr.write(f"error: no tutorial named {', '.join(sorted(missing))}\n")
            return 2
    for src in sources:
        render(src, mode=args.mode, timeout=args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

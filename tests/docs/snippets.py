"""Extract the ```python blocks of the README and docs/*.md, for the docs tests.

A block may opt out of execution only with a marker comment as its first line,
``# docs: not run (REASON)``, where the reason says it needs a network service or a GPU.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP = re.compile(r"^# docs: not run \((?P<reason>[^)]+)\)\s*$")
ALLOWED_REASONS = re.compile(r"\b(network|GPU|CUDA|server)\b", re.I)
_BLOCK = re.compile(r"^```python[^\n]*\n(?P<code>.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Snippet:
    page: Path
    line: int
    code: str
    skip_reason: str | None


def snippets(page: Path) -> list[Snippet]:
    text = page.read_text(encoding="utf-8")
    out = []
    for m in _BLOCK.finditer(text):
        code = m.group("code")
        first = code.splitlines()[0] if code.strip() else ""
        skip = SKIP.match(first)
        line = text[: m.start()].count("\n") + 2
        out.append(Snippet(page, line, code, skip.group("reason") if skip else None))
    return out


def page_script(page: Path) -> tuple[str, list[Snippet]]:
    """The page's runnable blocks concatenated in order (one namespace, as a reader runs
    them), each preceded by a marker naming its line for error messages."""
    parts, run = [], []
    for s in snippets(page):
        if s.skip_reason is not None:
            continue
        run.append(s)
        parts.append(f"print('--- {page.name}:{s.line}', flush=True)\n{s.code}")
    return "\n".join(parts), run

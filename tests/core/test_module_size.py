"""Rooms of a livable size: no module in src/ is over 600 lines."""

from __future__ import annotations

from pathlib import Path

import advlab

LIMIT = 600


def test_no_module_over_the_limit() -> None:
    root = Path(advlab.__file__).parent
    sizes = {p.relative_to(root): len(p.read_text().splitlines()) for p in root.rglob("*.py")}
    assert len(sizes) > 50
    too_big = {str(p): n for p, n in sizes.items() if n > LIMIT}
    assert not too_big, f"modules over {LIMIT} lines: {too_big}"

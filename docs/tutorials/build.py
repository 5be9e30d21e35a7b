"""Build the tutorials' notebooks from their jupytext sources (``NN_name.py``, percent format;
a module's second tutorial is ``NNb_name.py``).

    python docs/tutorials/build.py --out build/tutorials            # with solutions (CI)
    python docs/tutorials/build.py --student --out build/student    # solutions stripped

Exercise solutions are cells tagged ``solution``: the student build replaces each with an
empty code cell tagged ``exercise`` that says what to write, so the notebook still runs
top to bottom once the student fills it in. Cells tagged ``ci-only`` are dropped from the
student build too (checks that the solution worked).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLACEHOLDER = "# Exercise: your code here (the solution is in the instructor's build)\n"


def sources() -> list[Path]:
    """The tutorial sources, in module order."""
    return sorted(p for p in HERE.glob("[0-9][0-9]*_*.py"))


def build(src: Path, out_dir: Path, *, student: bool) -> Path:
    """Write ``src`` as a notebook in ``out_dir``; strip solutions for students."""
    import jupytext
    import nbformat

    nb = jupytext.read(src)
    cells = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if student and "ci-only" in tags:
            continue
        if student and "solution" in tags:
            cells.append(nbformat.v4.new_code_cell(PLACEHOLDER, metadata={"tags": ["exercise"]}))
            continue
        cells.append(cell)
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / (src.stem + ".ipynb")
    nbformat.write(nb, dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "_build")
    ap.add_argument("--student", action="store_true", help="strip the exercise solutions")
    args = ap.parse_args(argv)
    for src in sources():
        dest = build(src, args.out, student=args.student)
        sys.stdout.write(f"{dest}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

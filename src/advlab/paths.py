"""Output paths, checked before any work starts.

Every command that writes calls :func:`output_file` or :func:`output_dir` on its output
*before* it trains, attacks or assesses anything, so a bad path fails in a second with a
one-line :class:`~advlab.errors.OutputPathError` instead of losing the results at the end.
The rules:

* a file path must not be an existing directory (``--out /tmp`` is refused, it never becomes
  ``/tmp.safetensors``), and no folder on its way may be a file;
* missing parent folders are allowed (they are created when the file is written); the
  nearest existing one must be a writable directory;
* a name that becomes a directory inside a root (an assessment's ``name`` under ``runs/``)
  is a single path component: no separator, no ``..``, not absolute (:func:`safe_name`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from advlab.errors import OutputPathError

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (the current folder at worst)."""
    p = path
    while not p.exists() and not p.is_symlink():
        if p.parent == p:
            break
        p = p.parent
    return p


def _check_parents(path: Path, what: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    base = _nearest_existing(parent)
    if not base.is_dir():
        raise OutputPathError(f"{what} {path}: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputPathError(f"{what} {path}: cannot write in {base} (permission denied)")


def output_file(path: str | Path, *, suffix: str | None = None, what: str = "output") -> Path:
    """Check the file ``path`` (with ``suffix`` forced when given) can be written; returns it.

    Raises :class:`OutputPathError` for a directory, a file on the way, or an unwritable
    folder. Nothing is created.
    """
    p = Path(path)
    if str(path).endswith(("/", os.sep)) or p.is_dir():
        raise OutputPathError(
            f"{what} {path} is a directory; give a file path such as {p / ('out' + (suffix or ''))}"
        )
    if suffix is not None and p.suffix != suffix:
        if not p.name or p.name in (".", ".."):
            raise OutputPathError(f"{what} {path}: expected a file name ending in {suffix}")
        p = p.with_suffix(suffix)
        if p.is_dir():
            raise OutputPathError(f"{what} {p} is a directory; give another file name")
    if p.exists() and not p.is_file():
        raise OutputPathError(f"{what} {p} exists and is not a regular file")
    _check_parents(p, what)
    return p


def output_dir(path: str | Path, *, what: str = "output folder") -> Path:
    """Check the folder ``path`` can be created or written in; returns it. Nothing is created."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputPathError(f"{what} {p} is a file; give a folder")
    if p.is_dir():
        if not os.access(p, os.W_OK | os.X_OK):
            raise OutputPathError(f"{what} {p}: permission denied")
        return p
    _check_parents(p, what)
    return p


def safe_name(name: str, *, what: str = "name") -> str:
    """``name`` when it is one safe path component (letters, digits, ``_ . -``; not starting
    with ``.`` or ``-``); else :class:`OutputPathError`. Used for names that become folders."""
    if not isinstance(name, str) or not _SAFE_NAME.match(name):
        raise OutputPathError(
            f"{what} must be 1-128 letters, digits, '_', '.' or '-' (not starting with '.' or "
            f"'-', no '/'), got {excerpt(name)}"
        )
    return name


def inside(root: str | Path, path: str | Path) -> bool:
    """Whether ``path`` resolves inside ``root`` (symlinks followed)."""
    r, p = Path(root).resolve(), Path(path).resolve()
    return p == r or r in p.parents


def excerpt(value: object, limit: int = 60) -> str:
    """A bounded ``repr`` of ``value`` for error messages (never the whole input)."""
    import reprlib

    r = reprlib.Repr()
    r.maxstring = limit
    r.maxother = limit
    r.maxlevel = 2
    r.maxlist = r.maxdict = r.maxtuple = r.maxset = 4
    text = r.repr(value)
    return text if len(text) <= limit + 10 else text[: limit + 7] + "..."

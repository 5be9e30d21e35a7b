"""A small JSONPath subset to read answers, and safe templates to build requests.

:func:`compile_path` accepts ``$``, then any sequence of ``.name``, ``['name']`` /
``["name"]`` and ``[index]`` (negative indices count from the end), e.g.
``$.choices[0].message.content`` or ``$['data']['out'][-1]``. Nothing else (no filters,
wildcards or expressions) is accepted: a path is parsed, never evaluated.

:func:`fill_template` substitutes placeholders inside a JSON *structure* (not its text): a
string that is exactly ``"{{prompt}}"`` is replaced by the value (which may be a list, as
for ``{{messages}}``); a placeholder inside a longer string is replaced by the value's text.
Values are inserted as data, so quotes or braces in a prompt cannot change the request's
shape.
"""

from __future__ import annotations

import re
from typing import Any

from advlab.errors import ConfigError

PathStep = str | int

_NAME = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)")
_INDEX = re.compile(r"\[(-?\d+)\]")
_QUOTED = re.compile(r"""\[(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\]""")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class PathNotFound(LookupError):
    """The path does not lead anywhere in this document."""


def compile_path(path: str) -> tuple[PathStep, ...]:
    """The steps of ``path`` (names and indices); :class:`ConfigError` when not in the subset."""
    if not path.startswith("$"):
        raise ConfigError(f"a JSONPath starts with '$', got {path!r}")
    steps: list[PathStep] = []
    pos = 1
    while pos < len(path):
        for pattern in (_NAME, _INDEX, _QUOTED):
            m = pattern.match(path, pos)
            if m:
                break
        else:
            raise ConfigError(
                f"unsupported JSONPath {path!r} at position {pos}: use $.name, [index] or ['name']"
            )
        if pattern is _INDEX:
            steps.append(int(m.group(1)))
        elif pattern is _NAME:
            steps.append(m.group(1))
        else:
            raw = m.group(1) if m.group(1) is not None else m.group(2)
            steps.append(re.sub(r"\\(.)", r"\1", raw))
        pos = m.end()
    return tuple(steps)


def read_path(doc: Any, path: str | tuple[PathStep, ...]) -> Any:
    """The value at ``path`` in ``doc``; :class:`PathNotFound` (one line) when absent."""
    steps = compile_path(path) if isinstance(path, str) else path
    here = doc
    for i, step in enumerate(steps):
        where = _render(steps[:i]) or "$"
        if isinstance(step, int):
            if not isinstance(here, list):
                raise PathNotFound(f"{where} is not a list")
            if not -len(here) <= step < len(here):
                raise PathNotFound(f"{where} has {len(here)} items; no index {step}")
            here = here[step]
        else:
            if not isinstance(here, dict):
                raise PathNotFound(f"{where} is not an object")
            if step not in here:
                raise PathNotFound(f"{where} has no key {step!r}")
            here = here[step]
    return here


def _render(steps: tuple[PathStep, ...]) -> str:
    if not steps:
        return ""
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)


def placeholders(template: Any) -> set[str]:
    """The placeholder names used anywhere in ``template`` (keys included)."""
    found: set[str] = set()
    if isinstance(template, str):
        found.update(_PLACEHOLDER.findall(template))
    elif isinstance(template, dict):
        for k, v in template.items():
            found |= placeholders(k) | placeholders(v)
    elif isinstance(template, list):
        for v in template:
            found |= placeholders(v)
    return found


def fill_template(template: Any, values: dict[str, Any]) -> Any:
    """A copy of JSON ``template`` with ``{{name}}`` placeholders replaced by ``values``.

    An unknown placeholder raises :class:`ConfigError`. A whole-string placeholder takes the
    value as it is (any JSON value); an embedded one takes ``str(value)`` for strings and
    numbers, and refuses lists or objects (they have no single text form).
    """
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return _value(whole.group(1), values)

        def text(m: re.Match[str]) -> str:
            v = _value(m.group(1), values)
            if isinstance(v, (dict, list)):
                raise ConfigError(f"placeholder {{{{{m.group(1)}}}}} is a list; use it alone")
            return "" if v is None else str(v)

        return _PLACEHOLDER.sub(text, template)
    if isinstance(template, dict):
        return {fill_template(k, values): fill_template(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill_template(v, values) for v in template]
    return template


def _value(name: str, values: dict[str, Any]) -> Any:
    if name not in values:
        raise ConfigError(f"unknown placeholder {{{{{name}}}}}; known: {', '.join(sorted(values))}")
    return values[name]

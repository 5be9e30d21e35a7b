"""What ``advlab list`` shows: every discovered plugin's validated metadata, datasets, and
the plugin modules that could not be loaded."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from advlab.errors import AdvlabError
from advlab.plugin import metadata
from advlab.registry import (
    ATTACK_FAMILIES,
    BROKEN,
    DATASETS,
    all_plugins,
    discover,
    get_dataset,
    own_aliases,
)
from advlab.taxonomy import FAMILIES, TAG_AXES

SECTIONS = ("attacks", "defenses", "datasets", "all", *FAMILIES)


def _families(what: str) -> list[str]:
    if what not in SECTIONS:
        raise AdvlabError(f"unknown list {what!r}; expected one of: {', '.join(SECTIONS)}")
    if what == "all":
        return list(FAMILIES)
    if what == "attacks":
        return list(ATTACK_FAMILIES)
    if what == "defenses":
        return ["defense"]
    if what == "datasets":
        return []
    return [what]


def plugin_records(what: str = "all") -> list[dict[str, Any]]:
    """One JSON-friendly record per plugin of the chosen section (validated metadata)."""
    discover()
    out = []
    for family in _families(what):
        for cls in all_plugins(family)[family].values():
            meta = metadata(cls).model_dump(mode="json")
            meta["tags"] = sorted(meta["tags"])
            meta["flags"] = sorted(meta["flags"])
            meta["aliases"] = list(own_aliases(cls))
            out.append(meta)
    return out


def dataset_records() -> list[dict[str, str]]:
    discover()
    return [
        {"name": n, "description": (get_dataset(n).__doc__ or "").strip().splitlines()[0]}
        for n in sorted(DATASETS)
    ]


def broken_records() -> list[dict[str, str]]:
    discover()
    return [{"module": m, "reason": why} for m, why in sorted(BROKEN.items())]


def listing(what: str = "all") -> dict[str, Any]:
    """Everything ``advlab list --json`` prints."""
    return {
        "plugins": plugin_records(what),
        "datasets": dataset_records() if what in ("all", "datasets") else [],
        "broken": broken_records(),
    }


def _axis(rec: dict[str, Any], axis: str) -> str:
    return ", ".join(t.split(":", 1)[1] for t in rec["tags"] if t.startswith(axis + ":"))


def _family_table(family: str, recs: list[dict[str, Any]]) -> Table:
    """One row per plugin: name (and deprecated aliases), one column per tag axis that says
    something in this family (``threat`` is omitted where it only repeats the family), the
    flags, the link and the summary."""
    axes = [
        a
        for a in TAG_AXES
        if any(_axis(r, a) for r in recs) and {_axis(r, a) for r in recs} != {family}
    ]
    t = Table(title=family)
    t.add_column("name", no_wrap=True)
    for c in (*axes, "flags", "link", "summary"):
        t.add_column(c, overflow="fold")
    for r in recs:
        name = r["name"] + "".join(f" (was {a})" for a in r["aliases"])
        cells = [_axis(r, a) for a in axes]
        t.add_row(name, *cells, ", ".join(r["flags"]), r["link"], r["summary"])
    return t


def tables(what: str = "all") -> list[Table]:
    """Rich tables, one per family, then datasets and broken plugins."""
    data = listing(what)
    out: list[Table] = []
    by_family: dict[str, list[dict[str, Any]]] = {}
    for rec in data["plugins"]:
        by_family.setdefault(rec["family"], []).append(rec)
    for family, recs in by_family.items():
        out.append(_family_table(family, recs))
    if data["datasets"]:
        t = Table(title="datasets")
        t.add_column("name", no_wrap=True)
        t.add_column("description", overflow="fold")
        for d in data["datasets"]:
            t.add_row(d["name"], d["description"])
        out.append(t)
    if data["broken"]:
        t = Table(title="broken plugins (could not be loaded)")
        t.add_column("module", no_wrap=True)
        t.add_column("reason", overflow="fold")
        for b in data["broken"]:
            t.add_row(b["module"], b["reason"])
        out.append(t)
    return out

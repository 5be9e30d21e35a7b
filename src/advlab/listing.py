"""What ``advlab list`` shows: every discovered plugin's validated metadata, datasets, and
the plugin modules that could not be loaded."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from advlab.errors import AdvlabError
from advlab.plugin import metadata
from advlab.registry import BROKEN, DATASETS, all_plugins, discover, get_dataset
from advlab.taxonomy import FAMILIES

SECTIONS = ("attacks", "defenses", "datasets", "all", *FAMILIES)
ATTACK_FAMILIES = ("evasion", "extraction", "inference", "poisoning")


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
            meta["aliases"] = list(getattr(cls, "aliases", ()))
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


def tables(what: str = "all") -> list[Table]:
    """Rich tables, one per family, then datasets and broken plugins."""
    data = listing(what)
    out: list[Table] = []
    by_family: dict[str, list[dict[str, Any]]] = {}
    for rec in data["plugins"]:
        by_family.setdefault(rec["family"], []).append(rec)
    for family, recs in by_family.items():
        t = Table(title=family)
        t.add_column("name", no_wrap=True)
        for c in ("tags", "flags", "summary", "link"):
            t.add_column(c, overflow="fold")
        for r in recs:
            tags = ", ".join(x.split(":", 1)[1] for x in r["tags"] if not x.startswith("threat:"))
            t.add_row(r["name"], tags, ", ".join(r["flags"]), r["summary"], r["link"])
        out.append(t)
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

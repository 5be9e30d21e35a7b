"""Markdown report (for pull requests and wikis): the decision first, then the evidence."""

from __future__ import annotations

from typing import Any

from advlab.report.llm import llm_markdown
from advlab.report.privacy import privacy_markdown
from advlab.report.view import View, build_view, fmt


def _table(head: list[str], rows: list[list[str]]) -> str:
    def cell(s: str) -> str:
        return str(s).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _header(v: View, results: dict[str, Any]) -> list[str]:
    out = [f"# advlab assessment: {results.get('name')}", "", f"**Verdict: {v.verdict}**"]
    out += ["", v.verdict_reason, ""]
    if v.sanity_counts:
        out += [f"Sanity checks: {v.sanity_counts}.", ""]
    if v.headlines:
        eps = v.eps_values
        rows = [
            [
                h.variant,
                h.defense or "none",
                *([fmt(h.clean)] if eps else []),
                *[fmt(h.worst.get(e)) for e in eps],
                h.verdict,
                "; ".join(h.flags) or "none",
            ]
            for h in v.headlines
        ]
        head = [
            "target",
            "defense",
            *(["clean acc"] if eps else []),
            *[f"worst case @ {e:g}" for e in eps],
        ]
        out += ["## Summary", "", _table([*head, "verdict", "flags"], rows), ""]
    return out


def _sanity(v: View) -> list[str]:
    out = ["## Sanity checks", ""]
    if v.sanity_sentence:
        out.append(v.sanity_sentence)
    for w in v.warnings:
        where = f" ({w['variant']})" if w.get("variant") else ""
        impact = f" [{w['impact']}{', blocks a PASS' if w.get('blocking') else ''}]"
        line = (
            f"- **{w['severity'].upper()} {w['id']} {w['title']}**{where}"
            f"{impact if w.get('impact') else ''}: {w['detail']}. *What to do:* {w['advice']}"
        )
        if w.get("accepted"):
            line += f" *Accepted:* {w.get('accepted_reason', '')}"
        out.append(line)
    if v.not_applicable:
        out += ["", "Not applicable to this target:", ""]
        out += [f"- {n}" for n in v.not_applicable]
    return [*out, ""]


def _attacks(v: View) -> list[str]:
    if not v.rows:
        return []
    rows = [
        [
            group,
            r.attack,
            r.status,
            fmt(r.clean),
            fmt(r.robust),
            fmt(r.success),
            f"{r.queries:,}",
            f"{r.gradient_calls:,}",
            fmt(r.seconds, 2),
            r.note,
        ]
        for group, grp in v.grouped_rows
        for r in grp
    ]
    head = [
        "target @ eps",
        "attack",
        "status",
        "clean acc",
        "robust acc",
        "success",
        "queries",
        "gradient calls",
        "seconds",
        "note",
    ]
    return ["## Attacks and costs", "", _table(head, rows), ""]


def render_markdown(results: dict[str, Any]) -> str:
    v = build_view(results)
    out = _header(v, results)
    out += ["## Gates", ""]
    if v.gates:
        rows = []
        for g in v.gates:
            status = "PASS" if g["passed"] else ("ERROR" if g.get("error") else "FAIL")
            per = ", ".join(f"{k}: {fmt(x)}" for k, x in g.get("per_target", {}).items())
            rows.append([status, f"`{g['gate']}`", fmt(g.get("value")), per or g.get("detail", "")])
        out += [_table(["verdict", "gate", "measured (worst)", "per target"], rows), ""]
    else:
        out += ["No gates configured.", ""]
    out += _sanity(v)
    out += ["## Threat model", "", _table(["", ""], [[k, x] for k, x in v.threat]), ""]
    out += privacy_markdown(results)
    out += llm_markdown(results)
    if v.curves:
        out += ["## Robust accuracy vs eps", ""]
        for variant, curves in v.curves.items():
            eps = sorted({e for pts in curves.values() for e, _ in pts})
            rows = []
            for attack, pts in curves.items():
                d = dict(pts)
                rows.append([attack] + [fmt(d.get(e)) for e in eps])
            out += [
                f"### {variant}",
                "",
                _table(["attack"] + [f"eps {e:g}" for e in eps], rows),
                "",
            ]
    out += _attacks(v)
    if v.other:
        out += ["## Results", ""]
        for r in v.other:
            s = (r.get("result") or {}).get("summary", {})
            out.append(
                f"- **{r['task']['variant']} / {r['task']['attack']}**: "
                + ", ".join(
                    f"{k}={x}"
                    for k, x in s.items()
                    if isinstance(x, (int, float, str)) and k != "attack"
                )
            )
        out.append("")
    if results.get("problems"):
        out += ["## Run directory problems", ""] + [f"- {p}" for p in results["problems"]] + [""]
    out += [
        "## Environment",
        "",
        _table(["", ""], [[str(k), str(x)] for k, x in results.get("environment", {}).items()]),
        "",
    ]
    return "\n".join(out)

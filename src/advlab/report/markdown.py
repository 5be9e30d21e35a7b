"""Markdown report (for pull requests and wikis)."""

from __future__ import annotations

from typing import Any

from advlab.report.view import build_view, fmt


def _table(head: list[str], rows: list[list[str]]) -> str:
    def cell(s: str) -> str:
        return str(s).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def render_markdown(results: dict[str, Any]) -> str:
    v = build_view(results)
    out = [f"# advlab assessment: {results.get('name')}", "", f"**Verdict: {v.verdict}**", ""]
    out += ["## Threat model", "", _table(["", ""], [[k, x] for k, x in v.threat]), ""]
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
    if v.rows:
        out += ["## Attacks and costs", ""]
        rows = [
            [
                r.variant,
                r.attack,
                "" if r.eps is None else f"{r.eps:g}",
                r.status,
                fmt(r.clean),
                fmt(r.robust),
                fmt(r.success),
                f"{r.queries:,}",
                f"{r.gradient_calls:,}",
                fmt(r.seconds, 2),
                r.note,
            ]
            for r in v.rows
        ]
        out += [
            _table(
                [
                    "target",
                    "attack",
                    "eps",
                    "status",
                    "clean acc",
                    "robust acc",
                    "success",
                    "queries",
                    "gradient calls",
                    "seconds",
                    "note",
                ],
                rows,
            ),
            "",
        ]
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
    out += ["## Sanity checks", ""]
    if v.sanity_sentence:
        out.append(v.sanity_sentence)
    for w in v.warnings:
        where = f" ({w['variant']})" if w.get("variant") else ""
        out.append(
            f"- **{w['severity'].upper()} {w['id']} {w['title']}**{where}: "
            f"{w['detail']}. *What to do:* {w['advice']}"
        )
    if v.not_applicable:
        out += ["", "Not applicable to this target:", ""]
        out += [f"- {n}" for n in v.not_applicable]
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

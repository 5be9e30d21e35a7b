"""Self-contained HTML report: one file, inline CSS, inline SVG charts and PNG data URIs.

It leads with the decision -- the verdict and why, the sanity counts, a headline per target
(clean and worst-case robust accuracy at each eps, verdict, flags), the gates and the sanity
findings -- then the evidence: threat model, curves and the worst-case table, the attacks
grouped by target and eps, examples at every eps, query efficiency, environment.

A Content-Security-Policy ``default-src 'none'`` meta tag forbids every network request;
the page has no script.
"""

from __future__ import annotations

import json
import math
import time
from html import escape
from typing import Any

import numpy as np

from advlab.report import images, svg
from advlab.report.llm import llm_html
from advlab.report.privacy import privacy_html
from advlab.report.view import View, build_view, fmt

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#222;
background:#fff}
header{background:#243447;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;color:#cdd}
main{padding:8px 28px 40px;max-width:1200px}
section{margin-top:26px} h2{font-size:18px;border-bottom:2px solid #e5e5e5;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f5f7} td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:bold;color:#fff}
.PASS{background:#2e7d32}.FAIL{background:#c62828}.ERROR{background:#6a1b9a}
.NOTHING{background:#757575}.INCONCLUSIVE{background:#ef6c00}.INCOMPLETE{background:#757575}
.v-PASS{color:#2e7d32;font-weight:bold}.v-FAIL,.v-ERROR{color:#c62828;font-weight:bold}
.v-INCONCLUSIVE{color:#ef6c00;font-weight:bold}
tr.group th{background:#e8ecf1;text-align:left}
.accepted{border-left:4px solid #2e7d32;background:#f1f8e9;padding:6px 10px;margin:6px 0}
.pass{color:#2e7d32;font-weight:bold}.fail{color:#c62828;font-weight:bold}
.warning{border-left:4px solid #ef6c00;background:#fff8e1;padding:6px 10px;margin:6px 0}
.error{border-left:4px solid #c62828;background:#ffebee;padding:6px 10px;margin:6px 0}
.note{border-left:4px solid #1565c0;background:#e3f2fd;padding:6px 10px;margin:6px 0}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.gallery td{text-align:center;font-size:11px} .gallery img{image-rendering:pixelated}
.ex{white-space:nowrap;display:inline-block;margin:2px 6px}
.muted{color:#777;font-size:12px}
"""


def render_html(results: dict[str, Any]) -> str:
    v = build_view(results)
    name = escape(str(results.get("name") or "assessment"))
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(results.get("finished") or 0))
    verdict = v.verdict
    badge_cls = verdict.split()[0]
    body = [
        f"<header><h1>advlab assessment: {name}</h1>"
        f'<p><span class="badge {badge_cls}" id="verdict">{escape(verdict)}</span> '
        f"&nbsp;{when} &middot; seed {escape(str(results.get('seed')))} &middot; "
        f"{_counts(results)}</p>"
        f'<p id="verdict-reason">{escape(v.verdict_reason)}</p>'
        f'<p id="sanity-counts">{_sanity_counts(v)}</p></header><main>',
        _summary(v),
        _gates(v),
        _sanity(v),
        _threat(v),
        privacy_html(results),
        llm_html(results),
        _robustness(v),
        _attacks(v),
        _other(v),
        _gallery(v),
        _queries(v),
        _problems(results),
        _environment(results),
        "</main>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>advlab assessment: {name}</title><style>{CSS}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )


def _counts(results: dict[str, Any]) -> str:
    c = results.get("counts", {})
    return escape(
        f"{c.get('ok', 0)} tasks ok, {c.get('skipped', 0)} skipped, "
        f"{c.get('error', 0)} failed, {c.get('missing', 0)} not run"
    )


def _sanity_counts(v: View) -> str:
    if v.sanity_counts:
        return escape(f"Sanity checks: {v.sanity_counts}")
    if v.results.get("schema_version", 3) < 3:
        return "Sanity checks: not classified (recorded before findings had an impact)"
    return escape(f"Sanity checks: {v.sanity_status}")


def _summary(v: View) -> str:
    """The decision per target: clean and worst-case robust accuracy at each eps, verdict,
    flags."""
    if not v.headlines:
        return ""
    eps = v.eps_values
    rows = []
    for h in v.headlines:
        rows.append(
            [
                h.variant,
                h.defense or "none",
                *([_n(fmt(h.clean))] if eps else []),
                *[_n(fmt(h.worst.get(e))) for e in eps],
                _raw(f'<span class="v-{h.verdict.split()[0]}">{escape(h.verdict)}</span>'),
                "; ".join(h.flags) or "none",
            ]
        )
    head = [
        "target",
        "defense",
        *(["clean acc"] if eps else []),
        *[f"worst case @ {e:g}" for e in eps],
    ]
    return (
        '<section id="summary"><h2>Summary</h2><p class="muted">Worst case: a point counts as '
        "robust only if every attack of the suite failed on it.</p>"
        + _table([*head, "verdict", "flags"], rows)
        + "</section>"
    )


def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    h = "".join(f"<th>{escape(x)}</th>" for x in head)
    body = "".join("<tr>" + "".join(rows_cell(c) for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>'


def rows_cell(c: str) -> str:
    if c.startswith("\x00num:"):
        return f'<td class="num">{escape(c[5:])}</td>'
    if c.startswith("\x00raw:"):
        return f"<td>{c[5:]}</td>"
    return f"<td>{escape(c)}</td>"


def _n(s: str) -> str:
    return "\x00num:" + s


def _raw(s: str) -> str:
    return "\x00raw:" + s


def _threat(v: View) -> str:
    rows = [[k, val] for k, val in v.threat]
    return (
        '<section id="threat-model"><h2>Threat model</h2>' + _table(["", ""], rows) + "</section>"
    )


def _gates(v: View) -> str:
    if not v.gates:
        return (
            '<section id="gates"><h2>Gates</h2><p class="muted">No gates configured: '
            "add e.g. <code>robust_accuracy(linf, 0.1) &gt;= 0.7</code>.</p></section>"
        )
    rows = []
    for g in v.gates:
        status = "PASS" if g["passed"] else ("ERROR" if g.get("error") else "FAIL")
        cls = "pass" if g["passed"] else "fail"
        per = ", ".join(f"{k}: {fmt(x)}" for k, x in g.get("per_target", {}).items())
        rows.append(
            [
                _raw(f'<span class="{cls}">{status}</span>'),
                g["gate"],
                _n(fmt(g.get("value"))),
                per or g.get("detail", ""),
            ]
        )
    return (
        '<section id="gates"><h2>Gate verdicts</h2>'
        + _table(["verdict", "gate", "measured (worst)", "per target"], rows)
        + "</section>"
    )


def _robustness(v: View) -> str:
    if not v.curves:
        return ""
    charts = []
    for variant, curves in v.curves.items():
        series = [
            svg.Series(
                a,
                pts,
                width=3.0 if a == "worst case" else 1.8,
                color="#000" if a == "worst case" else None,
            )
            for a, pts in curves.items()
        ]
        charts.append(svg.render(svg.Chart(f"{variant}", "eps", "robust accuracy", series)))
    # before / after: worst case of every variant on one chart
    cmp_series = []
    for i, (variant, curves) in enumerate(v.curves.items()):
        pts = curves.get("worst case") or next(iter(curves.values()))
        cmp_series.append(
            svg.Series(
                variant,
                pts,
                dashed=v.defended.get(variant, False),
                color=svg.PALETTE[i % len(svg.PALETTE)],
            )
        )
    compare = (
        svg.render(
            svg.Chart(
                "Worst case per target (dashed: defended)", "eps", "robust accuracy", cmp_series
            )
        )
        if len(cmp_series) > 1
        else ""
    )
    return (
        '<section id="robustness"><h2>Robust accuracy vs eps</h2>'
        '<p class="muted">Per target and defended variant; "worst case" is robust only '
        "against every attack (per point).</p>"
        f'<div class="charts">{compare}{"".join(charts)}</div>{_worst_case_table(v)}</section>'
    )


def _worst_case_table(v: View) -> str:
    """Robust accuracy per attack and eps, and the worst case, one table per variant."""
    parts = []
    for variant, curves in v.curves.items():
        eps = sorted({e for pts in curves.values() for e, _ in pts})
        rows = []
        for attack, pts in curves.items():
            d = dict(pts)
            rows.append([attack, *[_n(fmt(d.get(e))) for e in eps]])
        parts.append(
            f"<h3>{escape(variant)}</h3>" + _table(["attack", *[f"eps {e:g}" for e in eps]], rows)
        )
    return f'<div id="worst-case">{"".join(parts)}</div>'


ATTACK_COLUMNS = [
    "attack",
    "status",
    "clean acc",
    "robust acc",
    "success rate",
    "queries",
    "gradient calls",
    "seconds",
    "note",
]


def _attacks(v: View) -> str:
    """The attacks grouped by target and eps (a header row per group), strongest first."""
    if not v.rows:
        return ""
    body = []
    for group, rows in v.grouped_rows:
        body.append(
            f'<tr class="group"><th colspan="{len(ATTACK_COLUMNS)}">{escape(group)}</th></tr>'
        )
        for r in rows:
            cells = [
                r.attack,
                r.status,
                _n(fmt(r.clean)),
                _n(fmt(r.robust)),
                _n(fmt(r.success)),
                _n(f"{r.queries:,}"),
                _n(f"{r.gradient_calls:,}"),
                _n(fmt(r.seconds, 2)),
                r.note,
            ]
            body.append("<tr>" + "".join(rows_cell(c) for c in cells) + "</tr>")
    head = "".join(f"<th>{escape(x)}</th>" for x in ATTACK_COLUMNS)
    return (
        '<section id="attacks"><h2>Attacks and costs</h2><p class="muted">Grouped by target '
        "and eps; in each group the strongest attack (lowest robust accuracy) first.</p>"
        f'<table class="attacks"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}'
        "</tbody></table></section>"
    )


def _other(v: View) -> str:
    if not v.other:
        return ""
    rows = []
    for r in v.other:
        s = (r.get("result") or {}).get("summary", {})
        keep = {k: x for k, x in s.items() if isinstance(x, (int, float, str)) and k != "attack"}
        rows.append(
            [r["task"]["variant"], r["task"]["attack"], json.dumps(keep, default=str)[:600]]
        )
    return (
        '<section id="results"><h2>Results</h2>'
        + _table(["target", "attack", "summary"], rows)
        + "</section>"
    )


def _gallery(v: View) -> str:
    if not v.gallery:
        return ""
    rows = []
    for g in v.gallery:
        cells = []
        eps = g["eps"] or 0.0
        for x, xa, y, p in zip(g["x"], g["x_adv"], g["y"], g["pred"], strict=True):
            xa_, x_ = np.asarray(xa), np.asarray(x)
            delta = xa_ - x_
            scale = eps if g["norm"] == "linf" else float(np.abs(delta).max())
            cells.append(
                f'<span class="ex"><img alt="input" src="{images.image_uri(x_, g["bounds"], 48)}">'
                f'<img alt="adversarial" src="{images.image_uri(xa_, g["bounds"], 48)}">'
                f'<img alt="perturbation" src="{images.heatmap_uri(delta, scale, 48)}">'
                f"<br>{escape(str(y))} &rarr; {escape(str(p))}</span>"
            )
        rows.append([g["variant"], f"{g['attack']} (eps {eps:g})", _raw("".join(cells))])
    return (
        '<section id="gallery"><h2>Adversarial examples</h2><p class="muted">At every eps, '
        "the examples of the strongest attack there. Each cell: "
        "input, adversarial example, perturbation (blue negative, red positive, scaled to "
        "eps); true label &rarr; predicted.</p>"
        + _table(["target", "attack", "examples"], rows, cls="gallery")
        + "</section>"
    )


def _queries(v: View) -> str:
    missing = (
        '<p class="muted">No per-point query counts recorded (so no curve) for: '
        + escape(", ".join(v.no_query_log))
        + "; their total queries are in the attacks table.</p>"
        if v.no_query_log
        else ""
    )
    if not v.query_curves:
        return (
            '<section id="query-efficiency"><h2>Query efficiency</h2><p class="muted">No '
            "black-box attack with per-point query counts in this assessment.</p>"
            f"{missing}</section>"
        )
    charts = []
    by_variant: dict[str, list[svg.Series]] = {}
    for c in v.query_curves:
        by_variant.setdefault(c["variant"], []).append(
            svg.Series(c["attack"], c["points"], markers=False, step=True)
        )
    for variant, series in by_variant.items():
        charts.append(
            svg.render(
                svg.Chart(
                    f"{variant}: success vs queries",
                    "queries (per point)",
                    "fraction broken",
                    series,
                    x_log=True,
                )
            )
        )
    return (
        '<section id="query-efficiency"><h2>Query efficiency</h2><p class="muted">Black-box '
        "attacks: fraction of attacked points broken within N queries, from per-point query "
        "counts (one step curve per eps).</p>"
        f'<div class="charts">{"".join(charts)}</div>{missing}</section>'
    )


def _sanity(v: View) -> str:
    items = []
    if v.sanity_sentence:
        cls = "pass" if v.sanity_status == "passed" else "muted"
        items.append(f'<p class="{cls}">{escape(v.sanity_sentence)}</p>')
    for w in v.warnings:
        sev = "accepted" if w.get("accepted") else w.get("severity", "warning")
        if w.get("impact") and not w.get("accepted"):  # classified: colour by the verdict
            sev = "error" if w.get("blocking") else "note"
        impact = w.get("impact")
        tag = f" &middot; {escape(impact)}" if impact else ""
        if w.get("blocking"):
            tag += " &middot; <b>blocks a PASS</b>"
        acc = (
            f'<br><i>Accepted:</i> <span class="accepted-reason">'
            f"{escape(w.get('accepted_reason', ''))}</span>"
            if w.get("accepted")
            else ""
        )
        items.append(
            f'<div class="{escape(sev)}"><b>{escape(w["id"])} {escape(w["title"])}</b>'
            f"{' &middot; ' + escape(str(w['variant'])) if w.get('variant') else ''}{tag}<br>"
            f"{escape(w['detail'])}<br><i>What to do:</i> {escape(w['advice'])}{acc}</div>"
        )
    if v.not_applicable:
        lis = "".join(f"<li>{escape(n)}</li>" for n in v.not_applicable)
        items.append(f'<p class="muted">Not applicable to this target:</p><ul>{lis}</ul>')
    return f'<section id="sanity"><h2>Sanity checks</h2>{"".join(items)}</section>'


def _problems(results: dict[str, Any]) -> str:
    probs = results.get("problems", [])
    if not probs:
        return ""
    items = "".join(f"<li>{escape(p)}</li>" for p in probs)
    return f'<section id="problems"><h2>Run directory problems</h2><ul>{items}</ul></section>'


def _environment(results: dict[str, Any]) -> str:
    env = dict(results.get("environment", {}))
    started, finished = results.get("started"), results.get("finished")
    if started and finished:
        env["wall time (s)"] = f"{finished - started:.1f}"
    env["config"] = results.get("config_path") or "(in memory)"
    rows = [[str(k), str(x)] for k, x in env.items()]
    return '<section id="environment"><h2>Environment</h2>' + _table(["", ""], rows) + "</section>"


def _isnan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)

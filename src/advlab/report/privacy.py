"""The privacy section of the reports: membership-inference audits (``goal: inference``).

Per target variant: a log-log ROC of every attack (inline SVG, with the DP bound
``TPR <= e^eps FPR + delta`` dashed when the target's epsilon is known), and a table with the
AUC, the TPR at each low FPR with its 95% bootstrap interval, the high-confidence empirical
epsilon (Clopper-Pearson, from the whole ROC) and the reference models used. With a known
epsilon each attack is checked against the bound: a TPR above it at some FPR, and an
empirical epsilon above the claimed one (a violation at 95% confidence), are stated.

Reads only what the task records hold (:mod:`advlab.assess.task_inference`).
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from advlab.privacy.metrics import roc_svg

DEFAULT_FPRS = (0.1, 0.01, 0.001)


def membership_records(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Finished membership-inference records with audit figures, by variant (plan order)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in results.get("records") or []:
        res = r.get("result") or {}
        if r.get("status") == "ok" and isinstance(res.get("privacy"), dict):
            out.setdefault(r["task"]["variant"], []).append(r)
    return out


def _fprs(results: dict[str, Any]) -> list[float]:
    cfg = (results.get("config") or {}).get("privacy") or {}
    return [float(f) for f in cfg.get("fprs") or DEFAULT_FPRS]


def _key(fpr: float) -> str:
    return f"{fpr * 100:g}%"


def _f(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return f"{float(x):.{digits}f}"


def _tpr_cell(metrics: dict[str, Any], fpr: float) -> str:
    k = _key(fpr)
    tpr = (metrics.get("tpr_at_fpr") or {}).get(k)
    ci = (metrics.get("tpr_ci") or {}).get(k)
    text = _f(tpr)
    if ci:
        text += f" [{_f(ci[0])}, {_f(ci[1])}]"
    return text


def _refs(p: dict[str, Any]) -> str:
    n = int(p.get("reference_models") or 0)
    if not n:
        return "none"
    mode = p.get("variance_mode")
    return f"{n} ({mode} variance)" if mode else str(n)


def _dp_cell(p: dict[str, Any]) -> str:
    if p.get("epsilon") is None:
        return ""
    if p.get("dp_violated"):
        return f"VIOLATED: empirical eps {_f(p.get('empirical_epsilon'), 3)} > {p['epsilon']:g}"
    over = p.get("dp_bound_exceeded") or []
    if over:
        return f"above the bound at {', '.join(over)} FPR (not significant)"
    return "within the bound"


def table_rows(recs: list[dict[str, Any]], fprs: list[float]) -> list[list[str]]:
    """One row per attack: attack, references, AUC, TPR [CI] per FPR, empirical eps, DP."""
    rows = []
    for r in recs:
        res = r["result"]
        m, p = res.get("metrics") or {}, res["privacy"]
        rows.append(
            [
                str(r["task"]["attack"]),
                _refs(p),
                _f(m.get("auc"), 3),
                *[_tpr_cell(m, f) for f in fprs],
                _f(p.get("empirical_epsilon"), 3),
                _dp_cell(p),
            ]
        )
    return rows


def _head(fprs: list[float], dp: bool) -> list[str]:
    return [
        "attack",
        "reference models",
        "AUC",
        *[f"TPR at {_key(f)} FPR [95% CI]" for f in fprs],
        "empirical eps (95%)",
        *(["DP bound"] if dp else []),
    ]


def _dp_of(recs: list[dict[str, Any]]) -> tuple[float, float] | None:
    p = recs[0]["result"]["privacy"]
    return None if p.get("epsilon") is None else (float(p["epsilon"]), float(p["delta"]))


def _dp_sentence(dp: tuple[float, float], recs: list[dict[str, Any]], fprs: list[float]) -> str:
    eps, delta = dp
    bound = recs[0]["result"]["privacy"].get("dp_bound") or {}
    at = ", ".join(f"{bound[_key(f)]:.4g} at {_key(f)}" for f in fprs if _key(f) in bound)
    violated = [r["task"]["attack"] for r in recs if r["result"]["privacy"].get("dp_violated")]
    text = (
        f"The target is declared ({eps:g}, {delta:g})-DP: no attack can reach a TPR above "
        f"e^eps FPR + delta ({at})."
    )
    if violated:
        text += (
            f" {', '.join(violated)} exceed(s) it at 95% confidence: the claimed guarantee "
            "does not hold for this model."
        )
    else:
        text += " No attack exceeds it at 95% confidence."
    return text


def _warnings(recs: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for r in recs:
        for w in (r["result"].get("metrics") or {}).get("warnings") or []:
            if w not in seen:
                seen.append(w)
    return seen


def privacy_html(results: dict[str, Any]) -> str:
    """The ``privacy`` section of the HTML report ('' when the run has no such records)."""
    by_variant = membership_records(results)
    if not by_variant:
        return ""
    fprs = _fprs(results)
    parts = [
        '<section id="privacy"><h2>Membership inference</h2><p class="muted">Members: the '
        "target's training points; non-members: held-out points. TPR at a low FPR is what "
        "matters (Carlini et al. 2022); 95% bootstrap intervals; the empirical epsilon is a "
        "95%-confidence lower bound from the whole ROC (Clopper-Pearson, simultaneous over "
        "thresholds).</p>"
    ]
    for variant, recs in by_variant.items():
        dp = _dp_of(recs)
        curves = {
            escape(str(r["task"]["attack"])): [tuple(pt) for pt in r["result"]["privacy"]["roc"]]
            for r in recs
        }
        floor = min((pt[0] for c in curves.values() for pt in c if pt[0] > 0), default=1e-4)
        floor = 10 ** math.floor(math.log10(max(min(floor, 1e-2), 1e-6)))
        chart = roc_svg(curves, title=f"ROC, {escape(variant)} (log-log)", floor=floor, dp_bound=dp)
        chart = chart.replace("<svg ", '<svg class="roc" role="img" ', 1)
        head = "".join(f"<th>{escape(h)}</th>" for h in _head(fprs, dp is not None))
        body = "".join(
            "<tr>"
            + "".join(
                f'<td class="num">{escape(c)}</td>'
                if 1 < i < len(row) - 1
                else f"<td>{escape(c)}</td>"
                for i, c in enumerate(row if dp else row[:-1])
            )
            + "</tr>"
            for row in table_rows(recs, fprs)
        )
        parts.append(
            f'<h3>{escape(variant)}</h3><div class="charts">{chart}</div>'
            f'<table class="privacy"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        )
        if dp is not None:
            cls = (
                "error" if any(r["result"]["privacy"].get("dp_violated") for r in recs) else "note"
            )
            parts.append(
                f'<div class="{cls} dp-bound">{escape(_dp_sentence(dp, recs, fprs))}</div>'
            )
        for w in _warnings(recs):
            parts.append(f'<div class="warning">{escape(w)}</div>')
    parts.append("</section>")
    return "".join(parts)


def privacy_markdown(results: dict[str, Any]) -> list[str]:
    """The membership-inference section of the Markdown report (no lines when none)."""
    by_variant = membership_records(results)
    if not by_variant:
        return []
    fprs = _fprs(results)
    out = [
        "## Membership inference",
        "",
        "TPR at low FPR with 95% bootstrap intervals; the empirical epsilon is a 95%-confidence "
        "lower bound (Clopper-Pearson, simultaneous over thresholds). The log-log ROC curves "
        "are in the HTML report.",
        "",
    ]
    for variant, recs in by_variant.items():
        dp = _dp_of(recs)
        rows = [row if dp else row[:-1] for row in table_rows(recs, fprs)]
        head = _head(fprs, dp is not None)
        out += [f"### {variant}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        out.append("")
        if dp is not None:
            out += [_dp_sentence(dp, recs, fprs), ""]
        out += [f"- warning: {w}" for w in _warnings(recs)]
        out.append("")
    return out

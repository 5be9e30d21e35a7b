"""The LLM section of the reports: probes against an LLM target (``goal: llm``).

A table of attack success per probe with its 95% bootstrap interval (hits / answered
attempts) and the OWASP Top 10 for LLM Applications ids the probe tests; with guards in the
config, one column for the target as it is (before) and one behind the guards (after). Then,
per probe and variant, up to :data:`MAX_TRANSCRIPTS` successful attempts: the prompt and the
answer with the span a detector flagged (the leaked secret, the obeyed marker) highlighted.

Everything a model wrote is untrusted: the HTML escapes every character of it (the highlight
is added around escaped text), the Markdown escapes HTML and Markdown syntax.

Reads only what the task records hold (:mod:`advlab.assess.task_llm`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape
from typing import Any

MAX_TRANSCRIPTS = 3
"""Successful attempts shown per probe and variant."""
MAX_CHARS = 600
"""Characters of a prompt or answer shown (the highlighted span is always kept)."""

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|>~-])")


def llm_records(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Finished LLM probe records, by variant (plan order)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in results.get("records") or []:
        if r.get("status") == "ok" and isinstance((r.get("result") or {}).get("llm"), dict):
            out.setdefault(r["task"]["variant"], []).append(r)
    return out


def llm_threat(cfg: dict[str, Any], results: dict[str, Any]) -> list[tuple[str, str]]:
    """The threat-model rows of an LLM assessment (secrets are counted, never shown)."""
    llm = cfg.get("llm") or {}
    t = llm.get("target") or {}
    if t.get("app"):
        what = f"vulnerable app {t['app']}"
    elif t.get("entry"):
        what = f"entry point {t['entry']}"
    else:
        what = f"{t.get('model')} at {t.get('base_url')}"

    def names(key: str, default: str) -> str:
        items = [x if isinstance(x, str) else x.get("name") for x in llm.get(key) or []]
        return ", ".join(map(str, items)) or default

    budget = llm.get("max_prompts")
    return [
        ("Goal", "llm"),
        ("Target", f"{t.get('name', 'llm')}: {what}"),
        ("Probes", names("probes", "the scan defaults")),
        ("Transforms", names("transforms", "none")),
        ("Detectors", names("detectors", "each probe's own")),
        ("Guards", names("guards", "none")),
        ("Secrets", f"{len(llm.get('secrets') or [])} given (an app's own added)"),
        (
            "Objectives",
            f"{len(llm.get('objectives') or [])} given" if llm.get("objectives") else "built-in",
        ),
        ("Budget", f"{budget} requests per probe at most" if budget else "every attempt"),
        ("Seed", str(results.get("seed"))),
    ]


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * float(x):.1f}%"


def _cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return "n/a"
    s = r["result"]["summary"]
    return (
        f"{_pct(s['attack_success'])} [{_pct(s.get('attack_success_low'))}, "
        f"{_pct(s.get('attack_success_high'))}] ({s['hits']}/{s['attempts']})"
    )


def success_table(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: probe, OWASP ids, then success per variant (before, after guards)."""
    by_variant = llm_records(results)
    variants = list(by_variant)
    probes: dict[str, dict[str, dict[str, Any]]] = {}
    for v, recs in by_variant.items():
        for r in recs:
            probes.setdefault(r["task"]["attack"], {})[v] = r
    guarded = len(variants) > 1
    header = ["probe", "OWASP"] + [
        f"{v} ({'after guards' if guarded and i else 'before'})" if guarded else v
        for i, v in enumerate(variants)
    ]
    rows = []
    for probe, per in probes.items():
        any_rec = next(iter(per.values()))
        owasp = ", ".join(any_rec["result"]["llm"].get("owasp") or [])
        rows.append([probe, owasp] + [_cell(per.get(v)) for v in variants])
    return header, rows


def _span(t: dict[str, Any]) -> tuple[int, int] | None:
    answer = t.get("answer") or ""
    for j in t.get("judgements") or []:
        sp = j.get("span")
        if j.get("hit") and sp and 0 <= sp[0] < sp[1] <= len(answer):
            return int(sp[0]), int(sp[1])
    return None


def _clip(text: str, span: tuple[int, int] | None) -> tuple[str, tuple[int, int] | None]:
    """At most :data:`MAX_CHARS` characters around the span."""
    if len(text) <= MAX_CHARS:
        return text, span
    start = 0 if span is None else max(0, min(span[0] - MAX_CHARS // 3, len(text) - MAX_CHARS))
    cut = text[start : start + MAX_CHARS]
    pre = "…" if start else ""
    post = "…" if start + MAX_CHARS < len(text) else ""
    if span is not None:
        span = (span[0] - start + len(pre), min(span[1] - start, MAX_CHARS) + len(pre))
    return pre + cut + post, span


def _prompt(t: dict[str, Any]) -> str:
    users = [m.get("content") or "" for m in t.get("messages") or [] if m.get("role") == "user"]
    return (users[-1] if users else "")[:MAX_CHARS]


def hits(recs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Per record, its first :data:`MAX_TRANSCRIPTS` successful transcripts."""
    out = []
    for r in recs:
        ts = [t for t in r["result"]["llm"].get("transcripts") or [] if t.get("hit")]
        if ts:
            out.append((r, ts[:MAX_TRANSCRIPTS]))
    return out


def _why(t: dict[str, Any]) -> str:
    return "; ".join(
        f"{j['detector']}: {j.get('detail') or 'hit'}"
        for j in t.get("judgements") or []
        if j["hit"]
    )


def _answer(t: dict[str, Any], safe: Callable[[str], str], mark: tuple[str, str]) -> str:
    """The (clipped) answer made ``safe``, with the flagged span between ``mark``."""
    text, span = _clip(t.get("answer") or "", _span(t))
    if span is None:
        return safe(text)
    a, b = span
    return safe(text[:a]) + mark[0] + safe(text[a:b]) + mark[1] + safe(text[b:])


# ---------------------------------------------------------------------------- HTML
def _answer_html(t: dict[str, Any]) -> str:
    return _answer(t, escape, ("<mark>", "</mark>"))


def llm_html(results: dict[str, Any]) -> str:
    """The LLM section as HTML ('' when the run has no LLM probe results)."""
    by_variant = llm_records(results)
    if not by_variant:
        return ""
    header, rows = success_table(results)
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    parts = [
        '<section id="llm"><h2>LLM probes</h2>',
        "<p>Attack success per probe: hits among answered attempts, with the 95% bootstrap "
        "interval. Model text below is untrusted and shown escaped; the flagged span is "
        "highlighted.</p>",
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>",
    ]
    for v, recs in by_variant.items():
        for r, ts in hits(recs):
            parts.append(f"<h3>{escape(r['task']['attack'])} on {escape(v)}</h3>")
            for t in ts:
                parts.append(
                    '<div class="transcript">'
                    f"<p><b>{escape(str(t.get('technique')))}</b> &middot; "
                    f"{escape(_why(t))}</p>"
                    f'<pre class="prompt">{escape(_prompt(t))}</pre>'
                    f'<pre class="answer">{_answer_html(t)}</pre></div>'
                )
    parts.append("</section>")
    return "".join(parts)


# ---------------------------------------------------------------------------- Markdown
def _md(text: str) -> str:
    """Text safe in a Markdown paragraph: HTML escaped, Markdown syntax backslashed, one line."""
    flat = re.sub(r"\s+", " ", text)
    return _MD_SPECIAL.sub(r"\\\1", escape(flat, quote=False))


def _answer_md(t: dict[str, Any]) -> str:
    return _answer(t, _md, ("**", "**"))


def llm_markdown(results: dict[str, Any]) -> list[str]:
    """The LLM section as Markdown lines (none when the run has no LLM probe results)."""
    by_variant = llm_records(results)
    if not by_variant:
        return []
    header, rows = success_table(results)
    out = ["## LLM probes", ""]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    out.append("")
    for v, recs in by_variant.items():
        for r, ts in hits(recs):
            out += [f"### {_md(r['task']['attack'])} on {_md(v)}", ""]
            for t in ts:
                out.append(f"- **{_md(str(t.get('technique')))}** ({_md(_why(t))})")
                out.append(f"  - prompt: {_md(_prompt(t))}")
                out.append(f"  - answer: {_answer_md(t)}")
            out.append("")
    return out

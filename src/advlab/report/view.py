"""What every report shows, computed once from ``results.json`` (no model is run)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from advlab.assess.gates import OPS, decide_verdict
from advlab.assess.metrics import (
    clean_accuracy,
    evasion_grid,
    num,
    ok_evasion,
    robust_accuracy,
    success_rate,
    variants_of,
    worst_case_curve,
)
from advlab.assess.sanity import CHECKS
from advlab.report.llm import llm_threat


@dataclass
class Row:
    variant: str
    attack: str
    eps: float | None
    status: str
    clean: float
    robust: float
    success: float
    queries: int
    gradient_calls: int
    seconds: float
    note: str = ""


@dataclass
class Headline:
    """The decision for one target or defended variant: what a reader needs first."""

    variant: str
    defense: str | None
    clean: float
    worst: dict[float, float]  # eps -> worst-case robust accuracy over every attack, per point
    verdict: str  # PASS | FAIL | INCONCLUSIVE | ERROR | NOT ASSESSED
    flags: list[str] = field(default_factory=list)  # the sanity findings on this variant


@dataclass
class View:
    results: dict[str, Any]
    threat: list[tuple[str, str]] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    curves: dict[str, dict[str, list[tuple[float, float]]]] = field(default_factory=dict)
    defended: dict[str, bool] = field(default_factory=dict)
    gallery: list[dict[str, Any]] = field(default_factory=list)
    query_curves: list[dict[str, Any]] = field(default_factory=list)
    other: list[dict[str, Any]] = field(default_factory=list)
    headlines: list[Headline] = field(default_factory=list)
    no_query_log: list[str] = field(default_factory=list)  # black-box attacks without per-point

    @property
    def eps_values(self) -> list[float]:
        """Every eps of the headline, ascending."""
        return sorted({e for h in self.headlines for e in h.worst})

    @property
    def grouped_rows(self) -> list[tuple[str, list[Row]]]:
        """The attack rows grouped by target and eps (groups in plan order, rows from the
        strongest attack, i.e. the lowest robust accuracy, down)."""
        groups: dict[str, list[Row]] = {}
        for r in self.rows:
            eps = "" if r.eps is None else f" @ eps {r.eps:g}"
            groups.setdefault(f"{r.variant}{eps}", []).append(r)
        return [
            (k, sorted(rs, key=lambda r: (math.isnan(r.robust), r.robust, r.attack)))
            for k, rs in groups.items()
        ]

    @property
    def gates(self) -> list[dict[str, Any]]:
        return self.results.get("gates", [])  # type: ignore[no-any-return]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return self.results.get("sanity", [])  # type: ignore[no-any-return]

    @property
    def sanity_status(self) -> str:
        """passed | warnings | disabled | incomplete (as the runner recorded it)."""
        return str(self.results.get("sanity_status") or ("warnings" if self.warnings else "passed"))

    @property
    def sanity_sentence(self) -> str:
        """What to say when there is no warning to list ('' when there are warnings)."""
        if self.sanity_status == "disabled":
            return "Sanity checks were not run: they are disabled in the config (sanity.enabled)."
        if self.sanity_status == "incomplete":
            return "Sanity checks were not evaluated: the run did not finish."
        if self.warnings:
            return ""
        if self.not_applicable:
            return "All applicable sanity checks passed."
        return "All sanity checks passed."

    @property
    def not_applicable(self) -> list[str]:
        """One line per sanity check the target's access ruled out, per variant."""
        out = []
        for n in self.results.get("sanity_not_applicable", []):
            meta = CHECKS.get(n.get("check", ""), {"id": "?", "title": n.get("check", "")})
            where = f" ({n['variant']})" if n.get("variant") else ""
            out.append(f"{meta['id']} {meta['title']}{where}: {n.get('reason', '')}")
        return out

    @property
    def verdict(self) -> str:
        """The verdict the runner recorded (older runs: derived from their gates alone)."""
        return str(self.results.get("verdict") or decide_verdict(self.results)[0])

    @property
    def verdict_reason(self) -> str:
        return str(self.results.get("verdict_reason") or decide_verdict(self.results)[1])

    @property
    def sanity_counts(self) -> str:
        """'N passed, N informational, N invalidating, N accepted' ('' for runs recorded
        before findings were classified)."""
        c = self.results.get("sanity_counts")
        if not c:
            return ""
        return (
            f"{c.get('passed', 0)} passed, {c.get('informational', 0)} informational, "
            f"{c.get('invalidating', 0)} invalidating, {c.get('accepted', 0)} accepted"
        )


def fmt(v: float | None, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.{digits}f}"


def build_view(results: dict[str, Any]) -> View:
    view = View(results)
    cfg = results.get("config", {})
    tm = cfg.get("threat_model", {})
    pert = tm.get("perturbation", {})
    budget = (tm.get("query_budget") or {}).get("per_point")
    data = cfg.get("data", {})
    view.threat = [
        ("Goal", str(tm.get("goal", "evasion"))),
        ("Knowledge", str(tm.get("knowledge", ""))),
        ("Access", str(tm.get("access", ""))),
        ("Query budget", f"{budget} per point per attack" if budget else "unlimited"),
        (
            "Perturbation",
            f"{pert.get('norm', '')}, eps in {', '.join(f'{e:g}' for e in pert.get('eps', []))}",
        ),
        ("Bounds", str(pert.get("bounds") or "the target's own")),
        ("Immutable features", ", ".join(map(str, pert.get("immutable", []))) or "none"),
        ("Targeted", "yes" if tm.get("targeted") else "no"),
        (
            "Data",
            f"{data.get('dataset')} ({data.get('split')} split, {data.get('n')} points, "
            f"seed {data.get('seed')})",
        ),
        ("Targets", ", ".join(str(t.get("name")) for t in cfg.get("targets", []))),
        ("Defenses", ", ".join(str(d.get("name")) for d in cfg.get("defenses", [])) or "none"),
        ("Seed", str(results.get("seed"))),
    ]
    if str(tm.get("goal", "evasion")) != "evasion":  # no perturbation model for these goals
        drop = {"Perturbation", "Bounds", "Immutable features", "Targeted"}
        view.threat = [row for row in view.threat if row[0] not in drop]
    if str(tm.get("goal")) == "llm":  # probes against an LLM: no data, no classifier targets
        view.threat = llm_threat(cfg, results)
    records = results.get("records", [])
    for v in results.get("variants", []):
        view.defended[v["label"]] = v.get("defense") is not None
    for r in records:
        t = r["task"]
        if t["role"] != "suite":
            continue
        res = r.get("result") or {}
        if r.get("status") == "ok" and t["kind"] == "evasion":
            note = res.get("message", "") if res.get("stopped_early") else ""
            view.rows.append(
                Row(
                    t["variant"],
                    t["attack"],
                    t["eps"],
                    "ok",
                    clean_accuracy(r),
                    robust_accuracy(r),
                    success_rate(r),
                    int(res.get("queries", 0)),
                    int(res.get("gradient_calls", 0)),
                    num(res.get("seconds")),
                    note,
                )
            )
        elif r.get("status") == "ok":
            if "privacy" not in res and "llm" not in res:  # these have their own sections
                view.other.append(r)
            continue
        else:
            view.rows.append(
                Row(
                    t["variant"],
                    t["attack"],
                    t.get("eps"),
                    r["status"],
                    float("nan"),
                    float("nan"),
                    float("nan"),
                    0,
                    0,
                    num(r.get("seconds")),
                    str(r.get("reason", "")),
                )
            )
    grid = evasion_grid(records)
    for variant in variants_of(records):
        if variant not in grid:
            continue
        curves = {
            attack: sorted((e, robust_accuracy(rec)) for e, rec in by_eps.items())
            for attack, by_eps in grid[variant].items()
        }
        if len(curves) > 1:
            curves["worst case"] = sorted(worst_case_curve(records, variant).items())
        view.curves[variant] = curves
    view.gallery = _gallery(records, results)
    view.query_curves, view.no_query_log = _query_curves(records)
    view.headlines = _headlines(records, results)
    return view


def _flag(w: dict[str, Any]) -> str:
    state = "accepted" if w.get("accepted") else (w.get("impact") or w.get("severity", ""))
    return f"{w['id']} {w['check']} ({state})"


def _flags(warnings: list[dict[str, Any]]) -> list[str]:
    """One flag per distinct finding kind, with its count when it occurred more than once."""
    counts: dict[str, int] = {}
    for w in warnings:
        counts[_flag(w)] = counts.get(_flag(w), 0) + 1
    return [f"{f} x{n}" if n > 1 else f for f, n in counts.items()]


def _headlines(records: list[dict[str, Any]], results: dict[str, Any]) -> list[Headline]:
    """One headline per target variant: clean accuracy, worst case per eps, verdict, flags.

    A variant's verdict: ERROR when one of its tasks failed, NOT ASSESSED without a finished
    suite task, FAIL when a gate's value for it fails, INCONCLUSIVE when a blocking sanity
    finding concerns it (or the whole run), else PASS."""
    defenses = {v["label"]: v.get("defense") for v in results.get("variants", [])}
    warnings = results.get("sanity", [])
    out = []
    for variant in variants_of(records):
        mine = [r for r in records if r["task"]["variant"] == variant]
        suite = [r for r in ok_evasion(mine)]
        other_ok = [r for r in mine if r["task"]["role"] == "suite" and r.get("status") == "ok"]
        clean = next((c for c in map(clean_accuracy, suite) if not math.isnan(c)), float("nan"))
        failed = [
            g
            for g in results.get("gates", [])
            if variant in (g.get("per_target") or {})
            and not OPS[g["op"]](num(g["per_target"][variant]), float(g["threshold"]))
        ]
        flags = [w for w in warnings if w.get("variant") in (variant, None)]
        if any(r.get("status") == "error" for r in mine):
            verdict = "ERROR"
        elif not other_ok:
            verdict = "NOT ASSESSED"
        elif failed:
            verdict = "FAIL"
        elif any(w.get("blocking") for w in flags):
            verdict = "INCONCLUSIVE"
        else:
            verdict = "PASS"
        out.append(
            Headline(
                variant,
                defenses.get(variant),
                clean,
                worst_case_curve(records, variant),
                verdict,
                _flags([w for w in flags if w.get("severity") != "note"]),
            )
        )
    return out


GALLERY_ROWS = 24
"""At most this many (variant, eps) rows in the gallery (whole variants are dropped first)."""


def _gallery(records: list[dict[str, Any]], results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (variant, eps) that has examples: those of the strongest attack there
    (lowest robust accuracy; ties by attack name), so every eps is shown. With more than
    :data:`GALLERY_ROWS` rows the last variants are left out whole."""
    best: dict[tuple[str, float], dict[str, Any]] = {}
    for r in ok_evasion(records):
        if not (r.get("examples") or {}).get("index"):
            continue
        t = r["task"]
        key = (t["variant"], float(t["eps"]))
        cur = best.get(key)
        if cur is None or (robust_accuracy(r), t["attack"]) < (
            robust_accuracy(cur),
            cur["task"]["attack"],
        ):
            best[key] = r
    order = {v: i for i, v in enumerate(variants_of(records))}
    out: list[dict[str, Any]] = []
    for variant in sorted({v for v, _ in best}, key=order.__getitem__):
        rows = [best[k] for k in sorted(k for k in best if k[0] == variant)]
        if len(out) + len(rows) > GALLERY_ROWS:
            break
        for r in rows:
            t = r["task"]
            bounds = ((r.get("result") or {}).get("target") or {}).get("bounds") or [0.0, 1.0]
            out.append(
                {
                    "variant": t["variant"],
                    "attack": t["attack"],
                    "eps": t["eps"],
                    "norm": t["norm"],
                    "bounds": tuple(bounds),
                    **(r.get("examples") or {}),
                }
            )
    return out


def _query_curves(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Black-box attacks with per-point query counts (``queries_to_success``): for each eps,
    the fraction of attacked points broken within N queries (non-decreasing in N by
    construction). Attacks that record only a total are named in the second list: a mean per
    eps is not a success-vs-queries curve, so none is drawn for them."""
    out = []
    missing: list[str] = []
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in ok_evasion(records):
        if r["task"]["requires"] == "gradients":
            continue
        groups.setdefault((r["task"]["variant"], r["task"]["attack"]), []).append(r)
    for (variant, attack), recs in groups.items():
        logs = [r for r in recs if (r.get("result") or {}).get("queries_to_success")]
        if logs:
            for r in logs:
                ql = list(r["result"]["queries_to_success"])
                attacked = len(ql)
                succ = sorted(q for q in ql if q is not None)
                if not attacked:
                    continue
                pts = [(float(q), (i + 1) / attacked) for i, q in enumerate(succ)]
                if pts:  # the step starts at 0 broken before the first success
                    pts.insert(0, (pts[0][0], 0.0))
                else:  # nothing broken: a flat line at 0
                    pts = [(1.0, 0.0)]
                out.append(
                    {
                        "variant": variant,
                        "attack": f"{attack} eps={r['task']['eps']:g}",
                        "points": pts,
                        "per_point": True,
                    }
                )
        else:
            missing.append(f"{variant} / {attack}")
    return out, missing

"""What every report shows, computed once from ``results.json`` (no model is run)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

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
class View:
    results: dict[str, Any]
    threat: list[tuple[str, str]] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    curves: dict[str, dict[str, list[tuple[float, float]]]] = field(default_factory=dict)
    defended: dict[str, bool] = field(default_factory=dict)
    gallery: list[dict[str, Any]] = field(default_factory=list)
    query_curves: list[dict[str, Any]] = field(default_factory=list)
    other: list[dict[str, Any]] = field(default_factory=list)

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
        c = self.results.get("counts", {})
        if self.results.get("complete") is False:
            return "INCOMPLETE"
        if c.get("error") or self.results.get("interrupted"):
            return "ERROR"
        if not c.get("suite_ok"):
            return "NOTHING ASSESSED"
        if any(not g["passed"] for g in self.gates):
            return "FAIL"
        return "PASS"


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
    view.query_curves = _query_curves(records)
    return view


def _gallery(records: list[dict[str, Any]], results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (variant, attack): the examples at the smallest eps that has any."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for r in sorted(ok_evasion(records), key=lambda r: r["task"]["eps"] or 0):
        t = r["task"]
        ex = r.get("examples") or {}
        if not ex.get("index") or (t["variant"], t["attack"]) in seen:
            continue
        seen.add((t["variant"], t["attack"]))
        bounds = ((r.get("result") or {}).get("target") or {}).get("bounds") or [0.0, 1.0]
        out.append(
            {
                "variant": t["variant"],
                "attack": t["attack"],
                "eps": t["eps"],
                "norm": t["norm"],
                "bounds": tuple(bounds),
                **ex,
            }
        )
    return out[:12]


def _query_curves(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Black-box attacks: success rate vs queries (per-point logs when the attack keeps them,
    else one point per eps: mean queries per point vs success rate)."""
    out = []
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
                out.append(
                    {
                        "variant": variant,
                        "attack": f"{attack} eps={r['task']['eps']:g}",
                        "points": pts,
                        "per_point": True,
                    }
                )
        else:
            pts = []
            for r in recs:
                res = r.get("result") or {}
                n = max(int((res.get("summary") or {}).get("n", 0) or 0), 1)
                pts.append((num(res.get("queries")) / n, success_rate(r)))
            out.append(
                {"variant": variant, "attack": attack, "points": sorted(pts), "per_point": False}
            )
    return out

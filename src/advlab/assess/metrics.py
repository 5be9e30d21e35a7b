"""Numbers derived from task records: robust accuracy tables, per-point worst case, gate values.

Records are the plain dicts stored in ``tasks/<key>.json``; nothing here runs a model.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from advlab.assess.gates import Gate

_EPS_TOL = 1e-9


def arr(v: Any) -> np.ndarray | None:
    if isinstance(v, dict) and "__array__" in v:
        return np.asarray(v["__array__"], dtype=v.get("dtype", None)).reshape(v["shape"])
    if isinstance(v, list):
        return np.asarray(v)
    return None


def num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return f


def same_eps(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-6, abs_tol=_EPS_TOL)


def ok_evasion(records: list[dict[str, Any]], role: str | None = "suite") -> list[dict[str, Any]]:
    return [
        r
        for r in records
        if r.get("status") == "ok"
        and r["task"]["kind"] == "evasion"
        and r["task"]["role"] != "probe"
        and (role is None or r["task"]["role"] == role)
    ]


def point_vectors(rec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """(clean_correct, success) boolean vectors of an evasion record."""
    res = rec.get("result") or {}
    cc, sc = arr(res.get("clean_correct")), arr(res.get("success"))
    if cc is None or sc is None:
        return None
    return cc.astype(bool), sc.astype(bool)


def robust_accuracy(rec: dict[str, Any]) -> float:
    v = point_vectors(rec)
    if v is None:
        return num((rec.get("result") or {}).get("summary", {}).get("robust_accuracy"))
    cc, sc = v
    return float((cc & ~sc).mean()) if len(cc) else float("nan")


def clean_accuracy(rec: dict[str, Any]) -> float:
    v = point_vectors(rec)
    return float(v[0].mean()) if v is not None and len(v[0]) else float("nan")


def success_rate(rec: dict[str, Any]) -> float:
    v = point_vectors(rec)
    if v is None:
        return float("nan")
    cc, sc = v
    return float((sc & cc).sum() / cc.sum()) if cc.sum() else 0.0


def worst_case(records: list[dict[str, Any]]) -> float:
    """Per-point worst case over several attacks (robust only if robust against all)."""
    vecs = [v for v in (point_vectors(r) for r in records) if v is not None]
    if not vecs:
        return float("nan")
    n = min(len(v[0]) for v in vecs)
    cc = np.ones(n, dtype=bool)
    broken = np.zeros(n, dtype=bool)
    for c, s in vecs:
        cc &= c[:n]
        broken |= s[:n]
    return float((cc & ~broken).mean()) if n else float("nan")


def evasion_grid(
    records: list[dict[str, Any]],
) -> dict[str, dict[str, dict[float, dict[str, Any]]]]:
    """variant -> attack label -> eps -> record (suite tasks only)."""
    grid: dict[str, dict[str, dict[float, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    for r in ok_evasion(records):
        t = r["task"]
        grid[t["variant"]][t["attack"]][float(t["eps"])] = r
    return grid


def worst_case_curve(records: list[dict[str, Any]], variant: str) -> dict[float, float]:
    by_eps: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for r in ok_evasion(records):
        if r["task"]["variant"] == variant:
            by_eps[float(r["task"]["eps"])].append(r)
    return {e: worst_case(rs) for e, rs in sorted(by_eps.items())}


def variants_of(records: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for r in records:
        v = r["task"]["variant"]
        if v not in out:
            out.append(v)
    return out


def _match_target(rec: dict[str, Any], target: str | None) -> bool:
    return target is None or rec["task"]["variant"] == target


def gate_values(gate: Gate, records: list[dict[str, Any]]) -> tuple[dict[str, float], str]:
    """Per target variant, the value the gate compares; with a note when nothing matched."""
    a = gate.args
    target = a.get("target")
    attack = a.get("attack")
    values: dict[str, float] = {}
    variants = [v for v in variants_of(records) if target is None or v == target]
    if target is not None and not variants:
        return {}, f"no target or variant named {target!r}"
    if gate.metric in ("robust_accuracy", "attack_success_rate"):
        for v in variants:
            recs = [
                r
                for r in ok_evasion(records)
                if r["task"]["variant"] == v
                and r["task"]["norm"] == a["norm"]
                and same_eps(r["task"]["eps"], a["eps"])
                and (attack is None or r["task"]["attack"] == attack)
            ]
            if not recs:
                continue
            if gate.metric == "robust_accuracy":
                values[v] = worst_case(recs)
            else:
                clean = min(clean_accuracy(r) for r in recs)
                rob = worst_case(recs)
                values[v] = 0.0 if clean <= 0 else float((clean - rob) / clean)
        note = (
            ""
            if values
            else (
                f"no finished {a['norm']} eps={a['eps']:g} evasion results"
                + (f" for attack {attack!r}" if attack else "")
            )
        )
        return values, note
    if gate.metric == "clean_accuracy":
        for v in variants:
            probes = [r for r in records if r.get("status") == "ok" and r["task"]["variant"] == v]
            accs = [clean_accuracy(r) for r in ok_evasion(probes, role=None)]
            accs += [
                num((r.get("probe") or {}).get("clean_accuracy"))
                for r in probes
                if r["task"]["role"] == "probe" and not accs
            ]
            accs = [x for x in accs if not math.isnan(x)]
            if accs:
                values[v] = accs[0]
        return values, "" if values else "no clean accuracy was measured"
    # metric(KEY, attack=, target=, eps=)
    key = str(a["key"])
    for v in variants:
        vals = []
        for r in records:
            if r.get("status") != "ok" or r["task"]["variant"] != v or r["task"]["role"] != "suite":
                continue
            if attack is not None and r["task"]["attack"] != attack:
                continue
            if "eps" in a and not same_eps(r["task"].get("eps"), a["eps"]):
                continue
            val = _lookup((r.get("result") or {}).get("summary", {}), key)
            if val is None:
                val = _lookup(r.get("result") or {}, key)
            if val is not None and not math.isnan(val):
                vals.append(val)
        if vals:
            values[v] = gate.worst(vals)
    return values, "" if values else f"no finished result reports {key!r}"


def _lookup(d: dict[str, Any], key: str) -> float | None:
    """``a.b`` walks nested dicts; keys containing dots are tried whole first."""
    if key in d:
        v = num(d[key])
        return None if math.isnan(v) else v
    head, _, rest = key.partition(".")
    if rest and isinstance(d.get(head), dict):
        return _lookup(d[head], rest)
    return None

"""Numbers derived from task records: robust accuracy tables, per-point worst case.

Records are the plain dicts stored in ``tasks/<key>.json``; nothing here runs a model.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

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

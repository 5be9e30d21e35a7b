"""Sanity checks of an evaluation, run automatically on the task records.

Carlini, Athalye, Papernot, Brendel, Rauber, Tsipras, Goodfellow, Madry & Kurakin, "On
Evaluating Adversarial Robustness", 2019 (arXiv:1902.06705), and the checks of AutoAttack
(Croce & Hein 2020, arXiv:2003.01690):

- returned examples lie inside eps and the bounds, re-verified independently of the attack
  (``eps-bounds``), and every claimed success is really misclassified (``success-recheck``);
- robust accuracy is non-increasing in eps (``non-monotonic``) and falls to about chance or
  below at a huge eps (``unbounded-not-broken``);
- iterative attacks are at least as strong as FGSM (``fgsm-stronger``; differences within the
  tolerance, and never less than 1.5 points of the evaluation set, are not findings);
- more steps and restarts barely change the result (``not-converged``);
- black-box and transfer successes are a subset of white-box successes, per point
  (``blackbox-not-subset``);
- zero / NaN / inf gradients are counted (``zero-gradients``, ``nonfinite-gradients``);
- randomness in the forward pass is detected (``stochastic-forward``: use EOT);
- probabilities instead of logits (``probabilities-not-logits``).

Each warning says what to do. A model with masked gradients (e.g. a quantisation layer) is
flagged by ``zero-gradients`` and usually by several of the others.

Impact (what a finding means for the verdict, :data:`INVALIDATING`): a finding is
**invalidating** when it shows that the measured robust accuracy is not a trustworthy upper
bound under the threat model -- the attacks' outputs break the threat model or do not
reproduce (``eps-bounds``, ``success-recheck``), the gradient signal the white-box attacks rely
on is broken (``zero-gradients``, ``nonfinite-gradients``, ``stochastic-forward``,
``probabilities-not-logits`` when declared logits are probabilities), or the attacks
demonstrably under-perform an attack that sees less or a budget that should win
(``unbounded-not-broken``, ``blackbox-not-subset``, ``fgsm-stronger``, ``non-monotonic``, and
``not-converged`` when the longer reference PGD beats the suite's best attack). Every other
finding is **informational**: the numbers stand, with a caveat (the short reference PGD is
not converged while the suite may be stronger, a budget ran out, an attack was skipped, a task
failed -- the latter is already an ERROR verdict -- or a note such as probabilities declared
as such).

:func:`classify` applies the config's ``sanity.fail_on`` (impacts and/or check names or ids
whose findings block a PASS; default ``[invalidating]``) and ``sanity.accept`` (check name or
id, optional variant, mandatory reason): a blocking finding that is not accepted makes the
verdict INCONCLUSIVE (:func:`advlab.assess.runner.verdict`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from advlab.assess.metrics import (
    num,
    ok_evasion,
    point_vectors,
    robust_accuracy,
)

CHECKS: dict[str, dict[str, str]] = {
    "eps-bounds": {"id": "ADV-S001", "title": "Adversarial examples outside eps or bounds"},
    "success-recheck": {"id": "ADV-S002", "title": "Claimed successes are not adversarial"},
    "non-monotonic": {"id": "ADV-S003", "title": "Robust accuracy increases with eps"},
    "unbounded-not-broken": {"id": "ADV-S004", "title": "Huge-eps attack does not reach chance"},
    "fgsm-stronger": {"id": "ADV-S005", "title": "FGSM beats an iterative attack"},
    "not-converged": {"id": "ADV-S006", "title": "More steps or restarts change the result"},
    "blackbox-not-subset": {"id": "ADV-S007", "title": "Black-box beats white-box on some points"},
    "zero-gradients": {"id": "ADV-S008", "title": "Zero gradients (gradient masking)"},
    "nonfinite-gradients": {"id": "ADV-S009", "title": "NaN or inf gradients"},
    "stochastic-forward": {"id": "ADV-S010", "title": "Randomness in the forward pass"},
    "probabilities-not-logits": {"id": "ADV-S011", "title": "Probabilities instead of logits"},
    "stopped-early": {"id": "ADV-R001", "title": "Attack stopped early (query budget)"},
    "attack-skipped": {"id": "ADV-R002", "title": "Attack skipped"},
    "task-error": {"id": "ADV-R003", "title": "Task failed"},
}

#: checks whose findings mean the numbers cannot be trusted (the rule is in the module doc):
#: every evaluation check (``ADV-S``), not the run notes (``ADV-R``); a finding of one of them
#: that is only a note, or the short-PGD convergence comparison, is informational
INVALIDATING = frozenset(c for c, m in CHECKS.items() if m["id"].startswith("ADV-S"))
IMPACTS = ("invalidating", "informational")
DEFAULT_FAIL_ON = ("invalidating",)

#: checks that need the target's gradients (the white-box reference attacks or the probe)
GRADIENT_CHECKS = [
    "unbounded-not-broken",
    "fgsm-stronger",
    "not-converged",
    "blackbox-not-subset",
    "zero-gradients",
    "nonfinite-gradients",
]
#: checks that need the target's scores
SCORE_CHECKS = ["probabilities-not-logits"]
_ITERATIVE_REFERENCES = {"pgd-short", "pgd-long", "pgd-huge"}


def _reference(rec: dict[str, Any]) -> str | None:
    ref = rec["task"].get("reference")
    return str(ref) if ref else None


def is_iterative(rec: dict[str, Any]) -> bool:
    """An iterative gradient attack: a PGD reference task, or a gradient attack whose class
    declared the ``iterative`` capability flag (recorded in the task when it was planned).
    Iterative black-box attacks (random search, Square) are not: FGSM may well beat them."""
    t = rec["task"]
    flagged = "iterative" in (t.get("flags") or []) and t.get("requires") == "gradients"
    return _reference(rec) in _ITERATIVE_REFERENCES or flagged


def is_fgsm(rec: dict[str, Any]) -> bool:
    """The single-step baseline: the FGSM reference task, or a gradient attack of the suite
    whose class did not declare the ``iterative`` flag."""
    t = rec["task"]
    single_step = t.get("requires") == "gradients" and "iterative" not in (t.get("flags") or [])
    return _reference(rec) == "fgsm" or single_step


def _warn(
    check: str,
    variant: str | None,
    detail: str,
    advice: str,
    severity: str = "warning",
    impact: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    meta = CHECKS[check]
    return {
        "check": check,
        "id": meta["id"],
        "title": meta["title"],
        "severity": severity,
        "impact": impact or impact_of(check, severity),
        "variant": variant,
        "detail": detail,
        "advice": advice,
        **extra,
    }


def impact_of(check: str, severity: str = "warning") -> str:
    """``invalidating`` or ``informational`` (the rule is in the module docstring): a note is
    never invalidating."""
    return "invalidating" if check in INVALIDATING and severity != "note" else "informational"


def resolve_check(name: str) -> str | None:
    """The check name of a check name or id (``zero-gradients`` or ``ADV-S008``)."""
    if name in CHECKS:
        return name
    return next((c for c, m in CHECKS.items() if m["id"] == name.upper()), None)


def classify(
    warnings: list[dict[str, Any]], spec: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The findings with ``blocking`` / ``accepted`` / ``accepted_reason`` set from the
    config's ``sanity`` section (``fail_on``, ``accept``), and the counts by outcome:
    ``informational`` (not blocking), ``invalidating`` (blocking and not accepted) and
    ``accepted`` (blocking but accepted with a reason)."""
    fail_on = list(spec.get("fail_on") or DEFAULT_FAIL_ON)
    impacts = {f for f in fail_on if f in IMPACTS}
    checks = {resolve_check(f) for f in fail_on if f not in IMPACTS} - {None}
    accepts = spec.get("accept") or []
    out = []
    counts = {"informational": 0, "invalidating": 0, "accepted": 0}
    for w in warnings:
        impact = w.get("impact") or impact_of(w["check"], w.get("severity", "warning"))
        blocking = impact in impacts or w["check"] in checks
        reason = next(
            (
                str(a["reason"])
                for a in accepts
                if resolve_check(str(a.get("check"))) == w["check"]
                and a.get("variant") in (None, w.get("variant"))
            ),
            "",
        )
        accepted = blocking and bool(reason)
        out.append(
            {
                **w,
                "impact": impact,
                "blocking": blocking and not accepted,
                "accepted": accepted,
                "accepted_reason": reason if accepted else "",
            }
        )
        key = "accepted" if accepted else ("invalidating" if blocking else "informational")
        counts[key] += 1
    return out, counts


def evaluated_checks(records: list[dict[str, Any]]) -> set[str]:
    """The sanity checks (``ADV-S``) whose inputs the records hold, i.e. that ran."""
    out: set[str] = set()
    ev = ok_evasion(records, role=None)
    if any(r.get("verified") for r in ev):
        out |= {"eps-bounds", "success-recheck"}
    eps_sets: dict[tuple[str, str], set[float]] = defaultdict(set)
    for r in ok_evasion(records):
        eps_sets[(r["task"]["variant"], r["task"]["attack"])].add(float(r["task"]["eps"]))
    if any(len(e) > 1 for e in eps_sets.values()):
        out.add("non-monotonic")
    refs = {_reference(r) for r in ev}
    if "pgd-huge" in refs:
        out.add("unbounded-not-broken")
    for recs in _by_variant_eps(records).values():
        if any(is_fgsm(r) for r in recs) and any(is_iterative(r) for r in recs):
            out.add("fgsm-stronger")
        if {"pgd-short", "pgd-long"} <= {_reference(r) for r in recs}:
            out.add("not-converged")
        req = {r["task"]["requires"] == "gradients" for r in recs}
        if req == {True, False}:
            out.add("blackbox-not-subset")
    for r in records:
        p = r.get("probe") if r.get("status") == "ok" else None
        if p:
            if p.get("grad_points"):
                out |= {"zero-gradients", "nonfinite-gradients"}
            if "max_repeat_diff" in p:
                out.add("stochastic-forward")
            if p.get("declared_output"):
                out.add("probabilities-not-logits")
    return out


def _num_classes(rec: dict[str, Any]) -> int | None:
    t = (rec.get("result") or {}).get("target") or {}
    k = t.get("num_classes")
    return int(k) if isinstance(k, (int, float)) else None


def run_checks(records: list[dict[str, Any]], config: dict[str, Any]) -> list[dict[str, Any]]:
    """All sanity warnings for a run (a list of JSON-able dicts, stable order)."""
    tol = float(config.get("sanity", {}).get("tolerance", 0.02))
    out: list[dict[str, Any]] = []
    out += _check_verified(records)
    out += _check_monotonic(records, tol)
    out += _check_huge_eps(records, tol)
    out += _check_fgsm(records, tol)
    out += _check_convergence(records, tol)
    out += _check_blackbox_subset(records)
    out += _check_probes(records)
    out += _check_run(records)
    return out


def _check_verified(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in ok_evasion(records, role=None):
        v = r.get("verified") or {}
        t = r["task"]
        if v.get("immutable_changed", 0):
            out.append(
                _warn(
                    "eps-bounds",
                    t["variant"],
                    f"{t['attack']} at eps={t['eps']:g}: {v['immutable_changed']} point(s) "
                    "changed an immutable feature",
                    "the attack did not apply the target's constraints; its success numbers "
                    "are invalid: report the bug",
                    severity="error",
                )
            )
        if v.get("infeasible", 0):
            out.append(
                _warn(
                    "eps-bounds",
                    t["variant"],
                    f"{t['attack']} at eps={t['eps']:g}: {v['infeasible']} success(es) violate "
                    "the threat model's domain constraints",
                    "the attack did not apply the constraints; its success numbers are "
                    "invalid: report the bug",
                    severity="error",
                )
            )
        if v.get("over_eps", 0) or v.get("out_of_bounds", 0):
            out.append(
                _warn(
                    "eps-bounds",
                    t["variant"],
                    f"{t['attack']} at {t['norm']} eps={t['eps']:g}: "
                    f"{v.get('over_eps', 0)} point(s) "
                    f"beyond eps (max norm {num(v.get('max_norm')):.4g}) and "
                    f"{v.get('out_of_bounds', 0)} outside the bounds",
                    "the attack's output was not projected: its success numbers are invalid; "
                    "report the bug",
                    severity="error",
                )
            )
        if v.get("claimed_not_adversarial", 0):
            out.append(
                _warn(
                    "success-recheck",
                    t["variant"],
                    f"{t['attack']} at eps={t['eps']:g}: {v['claimed_not_adversarial']} claimed "
                    "success(es) are classified correctly when re-queried",
                    "the model's output changes between queries (randomness) or the attack "
                    "checks success on a different model; use EOT or fix the attack",
                    severity="error",
                )
            )
    return out


def _check_monotonic(records: list[dict[str, Any]], tol: float) -> list[dict[str, Any]]:
    out = []
    series: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for r in ok_evasion(records):
        t = r["task"]
        series[(t["variant"], t["attack"])].append((float(t["eps"]), robust_accuracy(r)))
    for (variant, attack), pts in series.items():
        pts.sort()
        for (e1, a1), (e2, a2) in zip(pts, pts[1:], strict=False):
            if a2 > a1 + tol:
                out.append(
                    _warn(
                        "non-monotonic",
                        variant,
                        f"{attack}: robust accuracy {a1:.3f} at eps={e1:g} but {a2:.3f} "
                        "at the larger "
                        f"eps={e2:g}",
                        "a larger ball contains the smaller one, so a correct attack can only do "
                        "better: the attack is not converging (more steps, restarts, a step size "
                        "relative to eps) or gradients are masked",
                    )
                )
    return out


def _check_huge_eps(records: list[dict[str, Any]], tol: float) -> list[dict[str, Any]]:
    out = []
    for r in ok_evasion(records, role="sanity"):
        t = r["task"]
        if _reference(r) != "pgd-huge":
            continue
        k = _num_classes(r) or 10
        ra = robust_accuracy(r)
        if ra > 1.0 / k + tol + 0.05:
            out.append(
                _warn(
                    "unbounded-not-broken",
                    t["variant"],
                    f"PGD with eps={t['eps']:g} (the whole input range) leaves robust accuracy "
                    f"{ra:.3f}; chance is {1.0 / k:.3f}",
                    "with an unbounded budget any input is reachable, so the attack should win: "
                    "gradients are masked or uninformative; try BPDA, EOT or a gradient-free "
                    "attack "
                    "(square, objective)",
                )
            )
    return out


def _by_variant_eps(records: list[dict[str, Any]]) -> dict[tuple[str, float], list[dict[str, Any]]]:
    groups: dict[tuple[str, float], list[dict[str, Any]]] = defaultdict(list)
    for r in ok_evasion(records, role=None):
        t = r["task"]
        groups[(t["variant"], round(float(t["eps"]), 12))].append(r)
    return groups


def point_tolerance(rec: dict[str, Any], tol: float) -> float:
    """The tolerance for comparing accuracies of one record: ``tol``, but never less than
    1.5 points of its evaluation set, so that a single point never decides a finding."""
    v = point_vectors(rec)
    n = len(v[0]) if v is not None else 0
    return max(tol, 1.5 / n) if n else tol


def _check_fgsm(records: list[dict[str, Any]], tol: float) -> list[dict[str, Any]]:
    out = []
    for (variant, eps), recs in _by_variant_eps(records).items():
        fg = [r for r in recs if is_fgsm(r)]
        it = [r for r in recs if is_iterative(r) and _reference(r) != "pgd-huge"]
        if not fg or not it:
            continue
        fa = min(robust_accuracy(r) for r in fg)
        for r in it:
            ia = robust_accuracy(r)
            if ia > fa + point_tolerance(r, tol):
                out.append(
                    _warn(
                        "fgsm-stronger",
                        variant,
                        f"at eps={eps:g}: {r['task']['attack']} leaves {ia:.3f} robust accuracy, "
                        f"FGSM only {fa:.3f}",
                        "an iterative attack starting where FGSM ends should do at least as well: "
                        "its step size or step count is off, or the loss surface is masked",
                    )
                )
    return out


def _check_convergence(records: list[dict[str, Any]], tol: float) -> list[dict[str, Any]]:
    out = []
    for (variant, eps), recs in _by_variant_eps(records).items():
        short = [r for r in recs if _reference(r) == "pgd-short"]
        long = [r for r in recs if _reference(r) == "pgd-long"]
        if not short or not long:
            continue
        a_s, a_l = robust_accuracy(short[0]), robust_accuracy(long[0])
        if a_s - a_l > tol:
            out.append(
                _warn(
                    "not-converged",
                    variant,
                    f"at eps={eps:g}: PGD with 20 steps leaves {a_s:.3f}, with 50 steps x 2 "
                    f"restarts {a_l:.3f}",
                    "the attacks have not converged: raise steps and restarts until the number "
                    "stops moving",
                    impact="informational",  # the suite may be stronger: see the next check
                )
            )
        suite = [
            r for r in recs if r["task"]["role"] == "suite" and r["task"]["requires"] == "gradients"
        ]
        if suite:
            best = min(robust_accuracy(r) for r in suite)
            if best - a_l > tol:
                out.append(
                    _warn(
                        "not-converged",
                        variant,
                        f"at eps={eps:g}: the reference PGD (50 steps x 2) reaches {a_l:.3f}, "
                        f"below the suite's best {best:.3f}",
                        "the suite's attacks are too weak for this model; use more steps, restarts "
                        "or APGD",
                    )
                )
    return out


def _check_blackbox_subset(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for (variant, eps), recs in _by_variant_eps(records).items():
        wb = [r for r in recs if r["task"]["requires"] == "gradients"]
        bb = [r for r in recs if r not in wb]
        if not wb or not bb:
            continue
        vw = [v for v in (point_vectors(r) for r in wb) if v is not None]
        if not vw:
            continue
        n = min(len(v[1]) for v in vw)
        white = np.zeros(n, dtype=bool)
        for _, s in vw:
            white |= s[:n]
        for r in bb:
            v = point_vectors(r)
            if v is None:
                continue
            extra = v[1][:n] & ~white
            if extra.any():
                out.append(
                    _warn(
                        "blackbox-not-subset",
                        variant,
                        f"at eps={eps:g}: {r['task']['attack']} breaks {int(extra.sum())} point(s) "
                        "that no white-box attack broke",
                        "white-box attacks see strictly more, so they should break these points "
                        "too: gradients are masked or the white-box attacks are misconfigured",
                        points=np.flatnonzero(extra).tolist()[:20],
                    )
                )
    return out


def _check_probes(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in records:
        if r.get("status") != "ok" or r["task"]["role"] != "probe":
            continue
        p = r.get("probe") or {}
        variant = r["task"]["variant"]
        n = int(p.get("grad_points", 0) or 0)
        if n:
            zero, bad = int(p.get("grad_zero", 0)), int(p.get("grad_nonfinite", 0))
            if zero / n > 0.1:
                out.append(
                    _warn(
                        "zero-gradients",
                        variant,
                        f"{zero} of {n} clean points have an exactly zero loss gradient",
                        "gradients are masked (quantisation, rounding, a non-differentiable "
                        "preprocessing, saturated softmax): gradient attacks will overstate "
                        "robustness; use BPDA (e.g. bit-depth with bpda: true), EOT or "
                        "gradient-free attacks",
                    )
                )
            if bad:
                out.append(
                    _warn(
                        "nonfinite-gradients",
                        variant,
                        f"{bad} of {n} clean points have NaN or inf gradients",
                        "a numerically unstable layer or loss (log of 0, division by 0): fix the "
                        "model or attack a stable surrogate",
                    )
                )
        diff = num(p.get("max_repeat_diff"))
        flips = int(p.get("label_flips_on_repeat", 0) or 0)
        if (not math.isnan(diff) and diff > 1e-5) or flips:
            out.append(
                _warn(
                    "stochastic-forward",
                    variant,
                    f"the same inputs gave different outputs (max difference {diff:.3g}, "
                    f"{flips} label change(s))",
                    "the forward pass is random: average gradients over the randomness "
                    "(Expectation over Transformation, EOT) and report accuracy over repeats",
                )
            )
        if p.get("looks_like_probs") and p.get("declared_output") == "logits":
            out.append(
                _warn(
                    "probabilities-not-logits",
                    variant,
                    "the outputs are non-negative and sum to 1 per row, but the target declares "
                    "logits",
                    "expose the logits (drop the final softmax) or declare output: probs; "
                    "gradients "
                    "through a softmax saturate and weaken gradient attacks",
                )
            )
        elif p.get("declared_output") == "probs":
            out.append(
                _warn(
                    "probabilities-not-logits",
                    variant,
                    "the target returns probabilities; attacks work on their logarithm",
                    "prefer logits when the model can expose them",
                    severity="note",
                )
            )
    return out


def _check_run(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in records:
        t = r["task"]
        if r.get("status") == "skipped" and r.get("note") == "not-applicable":
            continue  # listed among the checks that were not applicable
        if r.get("status") == "skipped":
            out.append(
                _warn(
                    "attack-skipped",
                    t["variant"],
                    f"{t['attack']}: {r.get('reason')}",
                    "raise the query budget or choose a cheaper attack",
                    severity="note",
                )
            )
        elif r.get("status") == "error":
            out.append(
                _warn(
                    "task-error",
                    t["variant"],
                    f"{t['attack']}: {r.get('reason')}",
                    "fix the cause and run again with --resume",
                    severity="error",
                )
            )
        elif r.get("status") == "ok" and (r.get("result") or {}).get("stopped_early"):
            msg = (r.get("result") or {}).get("message", "")
            out.append(
                _warn(
                    "stopped-early",
                    t["variant"],
                    f"{t['attack']} at eps={t.get('eps')}: {msg}",
                    "the budget ran out before every point was attacked; the robust "
                    "accuracy is an upper bound",
                    severity="note",
                )
            )
    return out

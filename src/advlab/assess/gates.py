"""CI gates: ``robust_accuracy(linf, 0.1) >= 0.70`` parsed by a small grammar (never evaluated).

Grammar (whitespace is free)::

    gate    := metric COMPARE number
    metric  := NAME [ "(" [ arg ("," arg)* ] ")" ]
    arg     := value | NAME "=" value
    value   := number | NAME | STRING
    number  := DIGITS ["." DIGITS] [ "/" DIGITS ["." DIGITS] ] ["%"]
    COMPARE := ">=" | "<=" | ">" | "<" | "==" | "!="

Metrics (evasion): ``robust_accuracy(norm, eps, attack=, target=)`` (per-point worst case
over the attacks unless ``attack=`` names one), ``attack_success_rate(norm, eps, attack=,
target=)``, ``clean_accuracy(target=)``. Membership inference: ``tpr_at_fpr(fpr, attack=,
target=)``, the TPR at that FPR of the strongest attack unless ``attack=`` names one (the FPR
must be one of ``privacy.fprs``). LLM probes (``goal: llm``): ``attack_success(probe,
target=)``, the share of a probe's answered attempts its detectors judged a success
(``probe`` is the probe's name or label; without it, the worst probe). Any goal: ``metric(KEY, attack=, target=)`` reads
a number from the results' summaries (``metric(tpr_at_fpr_0.001, attack=lira) <= 0.05``).
Without ``target=`` a gate covers every target and defended variant and holds only if it
holds for each; the reported value is the worst one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from advlab.assess.metrics import (
    clean_accuracy,
    num,
    ok_evasion,
    same_eps,
    variants_of,
    worst_case,
)
from advlab.errors import ConfigError

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?%?)
      | (?P<op>>=|<=|==|!=|>|<)
      | (?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)
      | (?P<string>"[^"]*"|'[^']*')
      | (?P<punct>[(),=])
    )""",
    re.VERBOSE,
)

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: math.isclose(a, b, abs_tol=1e-9),
    "!=": lambda a, b: not math.isclose(a, b, abs_tol=1e-9),
}

METRICS: dict[str, dict[str, Any]] = {
    "robust_accuracy": {"positional": ["norm", "eps"], "keywords": {"attack", "target"}},
    "attack_success_rate": {"positional": ["norm", "eps"], "keywords": {"attack", "target"}},
    "clean_accuracy": {"positional": [], "keywords": {"target"}},
    "tpr_at_fpr": {"positional": ["fpr"], "keywords": {"attack", "target"}},
    "metric": {"positional": ["key"], "keywords": {"attack", "target", "eps"}},
    "attack_success": {"positional": ["probe"], "keywords": {"target"}, "optional": {"probe"}},
}


@dataclass(frozen=True)
class Gate:
    """A parsed gate: ``metric(args) op threshold``."""

    text: str
    metric: str
    args: dict[str, Any]
    op: str
    threshold: float

    def passes(self, value: float) -> bool:
        return not math.isnan(value) and OPS[self.op](value, self.threshold)

    def worst(self, values: list[float]) -> float:
        """The value most against the gate (min for >=/>, max for <=/<)."""
        finite = [v for v in values if not math.isnan(v)]
        if not finite:
            return float("nan")
        failing = [v for v in finite if not self.passes(v)]
        pool = failing or finite
        return min(pool) if self.op in (">=", ">", "==", "!=") else max(pool)


@dataclass
class GateVerdict:
    gate: str
    passed: bool
    value: float | None
    threshold: float
    op: str
    detail: str = ""
    per_target: dict[str, float] = field(default_factory=dict)
    error: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "passed": self.passed,
            "value": None if self.value is None or math.isnan(self.value) else self.value,
            "threshold": self.threshold,
            "op": self.op,
            "detail": self.detail,
            "per_target": self.per_target,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GateVerdict:
        return cls(
            **{k: d[k] for k in ("gate", "passed", "value", "threshold", "op")},
            detail=d.get("detail", ""),
            per_target=d.get("per_target", {}),
            error=d.get("error", False),
        )


def _number(tok: str) -> float:
    pct = tok.endswith("%")
    s = tok.rstrip("%").replace(" ", "")
    if "/" in s:
        a, b = s.split("/")
        if float(b) == 0:
            raise ConfigError(f"division by zero in {tok!r}")
        val = float(Fraction(a) / Fraction(b))
    else:
        val = float(s)
    return val / 100.0 if pct else val


def _tokenize(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConfigError(
                f"gate {text!r}: unexpected character {text[pos:].strip()[:1]!r} "
                f"at position {pos}; "
                "expected e.g. robust_accuracy(linf, 0.1) >= 0.70"
            )
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def parse_gate(text: str) -> Gate:
    """Parse a gate string; raises :class:`ConfigError` saying what was expected."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(
            "a gate must be a non-empty string like 'robust_accuracy(linf, 0.1) >= 0.7'"
        )
    toks = _tokenize(text)
    i = 0

    def expect(kind: str, value: str | None = None) -> str:
        nonlocal i
        if i >= len(toks):
            want = value or kind
            raise ConfigError(f"gate {text!r}: ended early; expected {want}")
        k, v = toks[i]
        if k != kind or (value is not None and v != value):
            raise ConfigError(f"gate {text!r}: unexpected {v!r}; expected {value or kind}")
        i += 1
        return v

    metric = expect("name")
    if metric not in METRICS:
        raise ConfigError(
            f"gate {text!r}: unknown metric {metric!r}; valid: {', '.join(sorted(METRICS))}"
        )
    spec = METRICS[metric]
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    if i < len(toks) and toks[i] == ("punct", "("):
        i += 1
        while i < len(toks) and toks[i] != ("punct", ")"):
            if toks[i][0] == "name" and i + 1 < len(toks) and toks[i + 1] == ("punct", "="):
                key = toks[i][1]
                i += 2
                if i >= len(toks):
                    raise ConfigError(f"gate {text!r}: ended early; expected a value for {key}")
                keywords[key] = _value(toks[i], text)
                i += 1
            else:
                if keywords:
                    raise ConfigError(f"gate {text!r}: positional argument after a keyword")
                positional.append(_value(toks[i], text))
                i += 1
            if i < len(toks) and toks[i] == ("punct", ","):
                i += 1
            elif i < len(toks) and toks[i] != ("punct", ")"):
                raise ConfigError(f"gate {text!r}: unexpected {toks[i][1]!r}; expected ',' or ')'")
        expect("punct", ")")
    names = spec["positional"]
    if len(positional) > len(names):
        raise ConfigError(
            f"gate {text!r}: {metric} takes {len(names)} positional argument(s) "
            f"({', '.join(names) or 'none'})"
        )
    args: dict[str, Any] = dict(zip(names, positional, strict=False))
    for k, v in keywords.items():
        if k not in spec["keywords"] and k not in names:
            valid = ", ".join(sorted(set(spec["keywords"]) | set(names)))
            raise ConfigError(f"gate {text!r}: unknown argument {k!r}; valid: {valid}")
        args[k] = v
    missing = [n for n in names if n not in args and n not in spec.get("optional", ())]
    if missing:
        raise ConfigError(f"gate {text!r}: {metric} needs {', '.join(missing)}")
    if "norm" in args and args["norm"] not in ("linf", "l2", "l1"):
        raise ConfigError(f"gate {text!r}: norm must be linf, l2 or l1, got {args['norm']!r}")
    if "fpr" in args and not (isinstance(args["fpr"], float) and 0 < args["fpr"] < 1):
        raise ConfigError(f"gate {text!r}: fpr must be a number in (0, 1), got {args['fpr']!r}")
    if "eps" in args and not isinstance(args["eps"], float):
        raise ConfigError(f"gate {text!r}: eps must be a number, got {args['eps']!r}")
    op = expect("op")
    thr_tok = expect("number")
    if i != len(toks):
        raise ConfigError(f"gate {text!r}: unexpected {toks[i][1]!r} after the threshold")
    return Gate(text=text.strip(), metric=metric, args=args, op=op, threshold=_number(thr_tok))


def _value(tok: tuple[str, str], text: str) -> Any:
    kind, v = tok
    if kind == "number":
        return _number(v)
    if kind == "name":
        return v
    if kind == "string":
        return v[1:-1]
    raise ConfigError(f"gate {text!r}: unexpected {v!r}; expected a value")


# ---------------------------------------------------------------------------- evaluation
def evaluate_gates(gates: list[str], records: list[Any]) -> list[GateVerdict]:
    """Evaluate gates against finished task records (see :mod:`advlab.assess.metrics`)."""
    out = []
    for text in gates:
        g = parse_gate(text)
        values, detail = gate_values(g, records)
        if not values:
            out.append(
                GateVerdict(
                    text,
                    False,
                    None,
                    g.threshold,
                    g.op,
                    detail or "no results match this gate",
                    error=True,
                )
            )
            continue
        worst = g.worst(list(values.values()))
        passed = all(g.passes(v) for v in values.values())
        out.append(GateVerdict(text, passed, worst, g.threshold, g.op, detail, dict(values)))
    return out


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
    if gate.metric == "tpr_at_fpr":
        return _tpr_values(gate, records, variants)
    if gate.metric == "attack_success":
        return _llm_values(gate, records, variants)
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


def _tpr_values(
    gate: Gate, records: list[dict[str, Any]], variants: list[str]
) -> tuple[dict[str, float], str]:
    """Per variant, the membership TPR at ``fpr`` of the strongest attack (or ``attack=``)."""
    fpr, attack = float(gate.args["fpr"]), gate.args.get("attack")
    key = f"{fpr * 100:g}%"
    values: dict[str, float] = {}
    seen: set[str] = set()
    for v in variants:
        vals = []
        for r in records:
            t = r["task"]
            if r.get("status") != "ok" or t["variant"] != v or t["role"] != "suite":
                continue
            if attack is not None and t["attack"] != attack:
                continue
            tprs = ((r.get("result") or {}).get("summary") or {}).get("tpr_at_fpr")
            if isinstance(tprs, dict):
                seen.update(tprs)
                if key in tprs and not math.isnan(num(tprs[key])):
                    vals.append(num(tprs[key]))
        if vals:
            values[v] = max(vals)
    if values:
        return values, ""
    if seen:
        computed = ", ".join(sorted(seen))
        return {}, f"no TPR at {key} FPR (computed at {computed}): add it to privacy.fprs"
    which = f" for attack {attack!r}" if attack else ""
    return {}, f"no finished membership-inference result{which}"


def _llm_values(
    gate: Gate, records: list[dict[str, Any]], variants: list[str]
) -> tuple[dict[str, float], str]:
    """Per variant, the attack success of the probe named (by name or label), or the worst."""
    probe = gate.args.get("probe")
    values: dict[str, float] = {}
    for v in variants:
        vals = [
            num(r["result"]["summary"]["attack_success"])
            for r in records
            if r.get("status") == "ok"
            and r["task"]["kind"] == "llm"
            and r["task"]["variant"] == v
            and (probe is None or probe in (r["task"]["attack"], r["task"]["attack_name"]))
            and "attack_success" in ((r.get("result") or {}).get("summary") or {})
        ]
        vals = [x for x in vals if not math.isnan(x)]
        if vals:
            values[v] = max(vals)
    which = f" of probe {probe!r}" if probe is not None else ""
    return values, "" if values else f"no finished LLM probe result{which}"


def _lookup(d: dict[str, Any], key: str) -> float | None:
    """``a.b`` walks nested dicts; keys containing dots are tried whole first."""
    if key in d:
        v = num(d[key])
        return None if math.isnan(v) else v
    head, _, rest = key.partition(".")
    if rest and isinstance(d.get(head), dict):
        return _lookup(d[head], rest)
    return None


def decide_verdict(results: dict[str, Any]) -> tuple[str, str]:
    """The overall verdict of a run and one sentence saying why.

    In order: ``INCOMPLETE`` (no results from the runner), ``ERROR`` (a task failed or the
    run was interrupted), ``NOTHING ASSESSED`` (no suite attack finished), ``FAIL`` (a gate
    failed: conclusive even when the evaluation is unreliable, since every invalidating
    finding means the attacks were too weak, so the true robustness is lower still),
    ``INCONCLUSIVE`` (a blocking sanity finding -- see :mod:`advlab.assess.sanity` -- that the
    config does not accept: the numbers cannot be trusted, so a PASS would be unfounded), else
    ``PASS``. Reads only what the runner recorded (``blocking`` on each finding)."""
    c = results.get("counts") or {}
    if results.get("complete") is False:
        return "INCOMPLETE", "the run did not finish: sanity checks and gates were not evaluated"
    if c.get("error") or results.get("interrupted"):
        why = f"{c.get('error', 0)} task(s) failed" if c.get("error") else "it was interrupted"
        return "ERROR", f"the run is not usable: {why}"
    if not c.get("suite_ok"):
        return "NOTHING ASSESSED", "no attack of the suite finished (skipped or failed)"
    failed = [g["gate"] for g in results.get("gates") or [] if not g.get("passed")]
    if failed:
        return "FAIL", f"{len(failed)} gate(s) failed: {'; '.join(failed)}"
    sanity = results.get("sanity") or []
    blocking = [w for w in sanity if w.get("blocking")]
    if blocking:
        where = sorted({f"{w['id']} {w['check']} ({w.get('variant') or 'all'})" for w in blocking})
        return (
            "INCONCLUSIVE",
            f"{len(blocking)} sanity finding(s) mean the robustness numbers cannot be trusted: "
            f"{', '.join(where)}; fix the evaluation (e.g. BPDA, EOT, stronger attacks) or "
            "accept each check with a reason under sanity.accept",
        )
    accepted = sum(1 for w in sanity if w.get("accepted"))
    gates = "every gate passed" if results.get("gates") else "no gate configured"
    extra = f", with {accepted} accepted sanity finding(s)" if accepted else ""
    return "PASS", gates + extra

"""One SARIF 2.1.0 builder for advlab's two logs: the model-file scanner and assessments.

Follows the OASIS "Static Analysis Results Interchange Format (SARIF) Version 2.1.0" standard
(https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html). Every rule carries a
``help`` text and a ``helpUri`` (the section of the docs in the project repository that
explains it) and a ``security-severity`` property (GitHub code scanning's convention, a CVSS-like
score that ranks the alerts: :data:`SCORES`).

- :func:`scan_sarif` -- a :class:`~advlab.serialization.findings.ScanReport` (thin caller:
  :mod:`advlab.serialization.sarif`).
- :func:`assessment_sarif` -- an assessment's results: failed gates (``ADV-G001``), gates
  without data (``ADV-G002``), sanity findings (``ADV-S0xx``) and run notes (``ADV-R0xx``, see
  :data:`advlab.assess.sanity.CHECKS`), located at the config file that was run (its gate's
  line); a run from an in-memory config points at the run directory's ``run.json``, which
  records the resolved config (thin caller: :mod:`advlab.report.sarif`).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advlab.serialization.findings import ScanReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
PROJECT_URL = "https://github.com/advlab/advlab"

#: security-severity per severity label (GitHub: >= 9 critical, >= 7 high, >= 4 medium, else low)
SCORES = {"critical": "9.5", "high": "8.0", "medium": "5.0", "low": "3.0", "info": "0.0"}
#: SARIF level per severity label
LEVELS = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "warning",
    "info": "note",
}


def docs_uri(doc: str, anchor: str = "") -> str:
    """The project URL of a docs file (``docs/<doc>``) and section anchor."""
    return f"{PROJECT_URL}/blob/main/docs/{doc}" + (f"#{anchor}" if anchor else "")


def rule(
    rule_id: str,
    *,
    name: str,
    title: str,
    severity: str,
    help_text: str,
    help_uri: str,
    full: str | None = None,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``reportingDescriptor`` with help, helpUri, level and security-severity."""
    return {
        "id": rule_id,
        "name": name,
        "shortDescription": {"text": title},
        "fullDescription": {"text": full or title},
        "help": {"text": help_text, "markdown": f"{help_text} [Documentation]({help_uri})"},
        "helpUri": help_uri,
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {
            **(properties or {}),
            "severity": severity,
            "security-severity": SCORES[severity],
        },
    }


def sarif_log(
    *,
    driver: dict[str, Any],
    rules: list[dict[str, Any]],
    results: list[dict[str, Any]],
    **run: Any,
) -> dict[str, Any]:
    """The log of one run: ``ruleIndex`` of every result set from its ``ruleId``."""
    index = {r["id"]: i for i, r in enumerate(rules)}
    for res in results:
        res["ruleIndex"] = index[res["ruleId"]]
    body = {"tool": {"driver": {**driver, "rules": rules}}, **run, "results": results}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [body]}


# ---------------------------------------------------------------------------- scanner
def _uri(path: str) -> str:
    p = Path(path)
    return p.as_posix() if not p.is_absolute() else p.as_uri()


def _scan_help(rule_id: str) -> str:
    anchor = "pickle-analysis" if rule_id.startswith("pickle.") else "formats"
    return docs_uri("model_files.md", anchor)


def scan_sarif(report: ScanReport, version: str = "0.1.0") -> dict[str, Any]:
    """The SARIF log of a model-file scan (a JSON-serialisable dict)."""
    from advlab.serialization.findings import Severity

    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for fr in report.files:
        for f in fr.findings:
            known = rules.get(f.rule)
            if known is None or Severity[known["properties"]["severity"].upper()] < f.severity:
                label = f.severity.label
                rules[f.rule] = rule(
                    f.rule,
                    name=f.rule.replace(".", "_").replace("-", "_"),
                    title=f.rule,
                    full=f"advlab scan rule {f.rule}",
                    severity=label,
                    help_text=(
                        f"advlab scan rule {f.rule} (highest severity seen: {label}). The "
                        "scanner never unpickles; the docs explain what the rule detects, the "
                        "allowlist policy and how to load the file safely."
                    ),
                    help_uri=_scan_help(f.rule),
                    properties={"tags": ["security", "model-file"]},
                )
            physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(fr.path)}}
            if f.offset is not None:
                physical["region"] = {"byteOffset": f.offset}
            results.append(
                {
                    "ruleId": f.rule,
                    "level": LEVELS[f.severity.label],
                    "message": {"text": f.message},
                    "locations": [
                        {
                            "physicalLocation": physical,
                            "logicalLocations": [
                                {"fullyQualifiedName": f.location, "kind": "member"}
                            ],
                        }
                    ],
                    "properties": {
                        "severity": f.severity.label,
                        **{
                            k: v
                            for k, v in f.detail.items()
                            if isinstance(v, (str, int, float, bool))
                        },
                    },
                }
            )
    notifications = [{"level": "error", "message": {"text": e}} for e in report.errors]
    return sarif_log(
        driver={"name": "advlab-scan", "informationUri": PROJECT_URL, "version": version},
        rules=list(rules.values()),
        results=results,
        invocations=[
            {
                "executionSuccessful": not report.errors,
                "exitCode": int(report.exit_code()),
                "toolExecutionNotifications": notifications,
            }
        ],
        artifacts=[{"location": {"uri": _uri(fr.path)}} for fr in report.files],
    )


# ---------------------------------------------------------------------------- assessments
GATE_RULES = {
    "gate-failed": {"id": "ADV-G001", "title": "Robustness gate failed"},
    "gate-error": {"id": "ADV-G002", "title": "Gate could not be evaluated"},
}


def _assessment_severity(name: str) -> str:
    """gate failed: high; a gate without data, a failed task or an invalidating check:
    medium; another check: low; a run note (budget ran out, attack skipped): info."""
    from advlab.assess.sanity import impact_of

    if name == "gate-failed":
        return "high"
    if name in ("gate-error", "task-error") or impact_of(name) == "invalidating":
        return "medium"
    if name in ("stopped-early", "attack-skipped"):
        return "info"
    return "low"


def _assessment_rules() -> list[dict[str, Any]]:
    from advlab.assess.sanity import CHECKS, impact_of

    out = []
    for name, meta in {**GATE_RULES, **CHECKS}.items():
        if name.startswith("gate"):
            anchor = "gates"
            text = f"{meta['title']}: the measured value and the threshold are in the message."
        else:
            anchor = "sanity-checks"
            impact = impact_of(name)
            text = f"{meta['title']} ({impact}). " + (
                "The robustness numbers cannot be trusted until it is fixed, or accepted "
                "with a reason under sanity.accept; the verdict is INCONCLUSIVE meanwhile."
                if impact == "invalidating"
                else "The numbers stand, with the caveat in the message."
            )
        out.append(
            rule(
                meta["id"],
                name="".join(p.capitalize() for p in name.split("-")),
                title=meta["title"],
                full=f"advlab assessment check '{name}': {meta['title']}.",
                severity=_assessment_severity(name),
                help_text=text,
                help_uri=docs_uri("assessments.md", anchor),
                properties={"check": name},
            )
        )
    return out


def llm_rule_id(owasp: str) -> str:
    """The rule id of an OWASP Top 10 for LLM Applications id: ``LLM01:2025`` -> ``ADV-LLM01``."""
    return "ADV-" + owasp.split(":")[0]


def _llm_rules() -> list[dict[str, Any]]:
    """One rule per OWASP Top 10 for LLM Applications (2025) id; a successful probe is a
    result of the rule of each id it tests."""
    from advlab.llm.probes.base import OWASP

    return [
        rule(
            llm_rule_id(oid),
            name="".join(w.capitalize() for w in title.split()),
            title=f"{oid} {title}",
            full=f"An LLM probe succeeded: OWASP Top 10 for LLM Applications {oid} ({title}).",
            severity="high",
            help_text=f"A probe testing {oid} ({title}) got answers its detectors judged a "
            "success; the report shows the transcripts with the flagged span.",
            help_uri=docs_uri("llm.md", "assessments-goal-llm"),
            properties={"owasp": oid, "tags": ["security", "llm", oid.split(":")[0].lower()]},
        )
        for oid, title in OWASP.items()
    ]


def _config_location(
    results: dict[str, Any], base: Path | None
) -> tuple[dict[str, Any], list[str]]:
    """The artifactLocation of the config that was run, and its lines (empty if unreadable)."""
    p = results.get("config_path")
    path = Path(p) if p else (base / "run.json" if base is not None else None)
    if path is None:  # rendered from results alone: the run directory's record of the config
        return {"uri": "run.json", "uriBaseId": "RUN_DIR"}, []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        lines = []
    for root in [base, Path.cwd()]:
        if root is None:
            continue
        try:
            rel = path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
        return ({"uri": rel, "uriBaseId": "RUN_DIR"} if root is base else {"uri": rel}), lines
    return {"uri": path.resolve().as_uri()}, lines


def _line_of(lines: list[str], needles: list[str]) -> int:
    for needle in needles:
        if not needle:
            continue
        for i, line in enumerate(lines):
            if needle in line:
                return i + 1
    return 1


def _fmt(v: Any) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def assessment_sarif(results: dict[str, Any], *, base: Path | None = None) -> dict[str, Any]:
    """The SARIF log of an assessment's results (``base``: its run directory)."""
    rules = _assessment_rules()
    if results.get("goal") == "llm":
        rules += _llm_rules()
    where, lines = _config_location(results, base)
    findings: list[dict[str, Any]] = []

    def add(rule_id: str, level: str, text: str, needles: list[str], key: str) -> None:
        findings.append(
            {
                "ruleId": rule_id,
                "level": level,
                "message": {"text": text},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": dict(where),
                            "region": {"startLine": _line_of(lines, needles)},
                        }
                    }
                ],
                "partialFingerprints": {
                    "advlabFinding/v1": hashlib.sha256(f"{rule_id}|{key}".encode()).hexdigest()[:32]
                },
            }
        )

    for g in results.get("gates", []):
        if g["passed"]:
            continue
        per = ", ".join(f"{k}: {_fmt(x)}" for k, x in g.get("per_target", {}).items())
        if g.get("error"):
            text = f"Gate `{g['gate']}` could not be evaluated: {g.get('detail')}"
        else:
            text = (
                f"Gate `{g['gate']}` failed: measured {_fmt(g.get('value'))} "
                f"(required {g['op']} {g['threshold']:g}); per target: {per}"
            )
        rid = "ADV-G002" if g.get("error") else "ADV-G001"
        add(rid, "error", text, [g["gate"], "gates:"], g["gate"])
    for w in results.get("sanity", []):
        level = {"error": "error", "warning": "warning"}.get(w.get("severity", ""), "note")
        variant = str(w.get("variant") or "")
        accepted = f" Accepted: {w.get('accepted_reason')}" if w.get("accepted") else ""
        add(
            w["id"],
            "note" if w.get("accepted") else level,
            f"{w['title']} ({variant}): {w['detail']}. {w['advice']}{accepted}",
            [f"name: {variant}", f'"{variant}"', variant.split("+")[0], "targets:", "target:"],
            f"{w['check']}|{variant}|{w['detail']}",
        )
    for r in results.get("records") or []:
        llm = (r.get("result") or {}).get("llm") if r.get("status") == "ok" else None
        if not isinstance(llm, dict) or not r["result"]["summary"].get("hits"):
            continue
        t, s = r["task"], r["result"]["summary"]
        for oid in llm.get("owasp") or []:
            add(
                llm_rule_id(oid),
                "error",
                f"Probe {t['attack']} succeeded on {t['variant']} ({oid}): {s['hits']} of "
                f"{s['attempts']} attempts, attack success {_fmt(s['attack_success'])}; "
                f"categories: {', '.join(llm.get('categories') or [])}",
                [t["attack"], "probes:"],
                f"{oid}|{t['variant']}|{t['attack']}",
            )
    c = results.get("counts", {})
    extra: dict[str, Any] = {}
    if where.get("uriBaseId") == "RUN_DIR" and base is not None:
        extra["originalUriBaseIds"] = {"RUN_DIR": {"uri": base.resolve().as_uri() + "/"}}
    return sarif_log(
        driver={
            "name": "advlab",
            "informationUri": PROJECT_URL,
            "version": str(results.get("environment", {}).get("advlab", "0")),
        },
        rules=rules,
        results=findings,
        **extra,
        artifacts=[{"location": dict(where), "roles": ["analysisTarget"]}],
        invocations=[
            {"executionSuccessful": not c.get("error") and not results.get("interrupted")}
        ],
        properties={
            "assessment": results.get("name"),
            "seed": results.get("seed"),
            "counts": c,
            "verdict": results.get("verdict"),
        },
    )


__all__ = [
    "GATE_RULES",
    "PROJECT_URL",
    "SARIF_SCHEMA",
    "assessment_sarif",
    "docs_uri",
    "rule",
    "sarif_log",
    "scan_sarif",
]

"""SARIF 2.1.0: failed gates and sanity findings, located at the assessment config file.

Rule ids are stable: ``ADV-G001`` (a gate failed), ``ADV-G002`` (a gate could not be
evaluated), ``ADV-S0xx`` sanity checks and ``ADV-R0xx`` run notes (see
:data:`advlab.assess.sanity.CHECKS`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from advlab.assess.sanity import CHECKS
from advlab.report.view import fmt

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

GATE_RULES = {
    "gate-failed": {"id": "ADV-G001", "title": "Robustness gate failed"},
    "gate-error": {"id": "ADV-G002", "title": "Gate could not be evaluated"},
}


def _rules() -> list[dict[str, Any]]:
    out = []
    for name, meta in {**GATE_RULES, **CHECKS}.items():
        level = (
            "error"
            if name.startswith("gate") or name in ("eps-bounds", "task-error")
            else "warning"
        )
        if name in ("stopped-early", "attack-skipped"):
            level = "note"
        out.append(
            {
                "id": meta["id"],
                "name": "".join(p.capitalize() for p in name.split("-")),
                "shortDescription": {"text": meta["title"]},
                "fullDescription": {"text": f"advlab assessment check '{name}': {meta['title']}."},
                "defaultConfiguration": {"level": level},
                "properties": {"check": name},
            }
        )
    return out


def _config_location(results: dict[str, Any], base: Path | None) -> tuple[str, list[str]]:
    p = results.get("config_path")
    if not p:
        return "advlab-assessment.yaml", []
    path = Path(p)
    lines: list[str] = []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        pass
    uri = path.as_uri()
    for root in [base, Path.cwd()]:
        if root is None:
            continue
        try:
            uri = path.resolve().relative_to(root.resolve()).as_posix()
            break
        except ValueError:
            continue
    return uri, lines


def _line_of(lines: list[str], needles: list[str]) -> int:
    for needle in needles:
        if not needle:
            continue
        for i, line in enumerate(lines):
            if needle in line:
                return i + 1
    return 1


def render_sarif(results: dict[str, Any], *, base: Path | None = None) -> str:
    rules = _rules()
    index = {r["id"]: i for i, r in enumerate(rules)}
    uri, lines = _config_location(results, base)
    findings: list[dict[str, Any]] = []

    def add(rule_id: str, level: str, text: str, needles: list[str], key: str) -> None:
        line = _line_of(lines, needles)
        findings.append(
            {
                "ruleId": rule_id,
                "ruleIndex": index[rule_id],
                "level": level,
                "message": {"text": text},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri},
                            "region": {"startLine": line},
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
        per = ", ".join(f"{k}: {fmt(x)}" for k, x in g.get("per_target", {}).items())
        if g.get("error"):
            add(
                "ADV-G002",
                "error",
                f"Gate `{g['gate']}` could not be evaluated: {g.get('detail')}",
                [g["gate"], "gates:"],
                g["gate"],
            )
        else:
            add(
                "ADV-G001",
                "error",
                f"Gate `{g['gate']}` failed: measured {fmt(g.get('value'))} "
                f"(required {g['op']} {g['threshold']:g}); per target: {per}",
                [g["gate"], "gates:"],
                g["gate"],
            )
    for w in results.get("sanity", []):
        level = {"error": "error", "warning": "warning"}.get(w.get("severity", ""), "note")
        variant = str(w.get("variant") or "")
        add(
            w["id"],
            level,
            f"{w['title']} ({variant}): {w['detail']}. {w['advice']}",
            [f"name: {variant}", variant.split("+")[0], "targets:", "target:"],
            f"{w['check']}|{variant}|{w['detail']}",
        )
    c = results.get("counts", {})
    run = {
        "tool": {
            "driver": {
                "name": "advlab",
                "version": str(results.get("environment", {}).get("advlab", "0")),
                "rules": rules,
            }
        },
        "artifacts": [{"location": {"uri": uri}, "roles": ["analysisTarget"]}],
        "invocations": [
            {"executionSuccessful": not c.get("error") and not results.get("interrupted")}
        ],
        "results": findings,
        "properties": {"assessment": results.get("name"), "seed": results.get("seed"), "counts": c},
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=1)

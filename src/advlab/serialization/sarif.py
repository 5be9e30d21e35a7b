"""SARIF 2.1.0 export of a :class:`~advlab.serialization.findings.ScanReport`.

Follows the OASIS "Static Analysis Results Interchange Format (SARIF) Version 2.1.0" standard
(https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html); ``security-severity`` rule
properties follow GitHub code scanning's convention so results are ranked there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advlab.serialization.findings import ScanReport, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "warning",
    Severity.INFO: "note",
}
_SCORE = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.0",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _uri(path: str) -> str:
    p = Path(path)
    return p.as_posix() if not p.is_absolute() else p.as_uri()


def to_sarif(report: ScanReport, version: str = "0.1.0") -> dict[str, Any]:
    """Return a SARIF 2.1.0 log (a JSON-serialisable dict) for ``report``."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for fr in report.files:
        for f in fr.findings:
            rule = rules.get(f.rule)
            if rule is None or Severity[rule["properties"]["severity"].upper()] < f.severity:
                rules[f.rule] = {
                    "id": f.rule,
                    "name": f.rule.replace(".", "_").replace("-", "_"),
                    "shortDescription": {"text": f.rule},
                    "defaultConfiguration": {"level": _LEVEL[f.severity]},
                    "properties": {
                        "severity": f.severity.label,
                        "security-severity": _SCORE[f.severity],
                        "tags": ["security", "model-file"],
                    },
                }
            region: dict[str, Any] = {}
            if f.offset is not None:
                region = {"byteOffset": f.offset}
            physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(fr.path)}}
            if region:
                physical["region"] = region
            results.append(
                {
                    "ruleId": f.rule,
                    "level": _LEVEL[f.severity],
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
    rule_list = list(rules.values())
    index = {r["id"]: i for i, r in enumerate(rule_list)}
    for res in results:
        res["ruleIndex"] = index[res["ruleId"]]
    notifications = [{"level": "error", "message": {"text": e}} for e in report.errors]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "advlab-scan",
                        "informationUri": "https://github.com/advlab/advlab",
                        "version": version,
                        "rules": rule_list,
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not report.errors,
                        "exitCode": int(report.exit_code()),
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "artifacts": [{"location": {"uri": _uri(fr.path)}} for fr in report.files],
                "results": results,
            }
        ],
    }

"""SARIF 2.1.0 export of a :class:`~advlab.serialization.findings.ScanReport`.

A thin caller of the one SARIF builder, :mod:`advlab.sarif` (rules with help, helpUri and
GitHub's ``security-severity``).
"""

from __future__ import annotations

from typing import Any

from advlab.sarif import SARIF_SCHEMA, scan_sarif
from advlab.serialization.findings import ScanReport


def to_sarif(report: ScanReport, version: str = "0.1.0") -> dict[str, Any]:
    """Return a SARIF 2.1.0 log (a JSON-serialisable dict) for ``report``."""
    return scan_sarif(report, version)


__all__ = ["SARIF_SCHEMA", "to_sarif"]

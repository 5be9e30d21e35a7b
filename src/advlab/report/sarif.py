"""SARIF 2.1.0 of an assessment: failed gates and sanity findings, located at the config file
that was run. A thin caller of the one SARIF builder, :mod:`advlab.sarif`, which documents
the rule ids (``ADV-G00x`` gates, ``ADV-S0xx`` sanity checks, ``ADV-R0xx`` run notes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from advlab.sarif import GATE_RULES, SARIF_SCHEMA, assessment_sarif


def render_sarif(results: dict[str, Any], *, base: Path | None = None) -> str:
    """The assessment's SARIF log as indented JSON (``base``: the run directory)."""
    return json.dumps(assessment_sarif(results, base=base), indent=1)


__all__ = ["GATE_RULES", "SARIF_SCHEMA", "render_sarif"]

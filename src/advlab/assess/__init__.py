"""Assessments: a threat model + a suite of attacks against targets (undefended and defended),
with sanity checks and gates; writes a run directory that reports render.

Example:
    >>> from advlab.assess import load_config, run_assessment
    >>> outcome = run_assessment("examples/assess-digits.yaml", "runs/digits")
    >>> outcome.exit_code
"""

from advlab.assess.config import AssessmentConfig, json_schema, load_config, parse_config
from advlab.assess.gates import Gate, GateVerdict, parse_gate
from advlab.assess.runner import (
    AssessmentInterrupted,
    RunDirError,
    RunOutcome,
    assemble,
    exit_code,
    load_results,
    plan,
    run_assessment,
)

__all__ = [
    "AssessmentConfig",
    "AssessmentInterrupted",
    "Gate",
    "GateVerdict",
    "RunDirError",
    "RunOutcome",
    "assemble",
    "exit_code",
    "json_schema",
    "load_config",
    "load_results",
    "parse_config",
    "parse_gate",
    "plan",
    "run_assessment",
]

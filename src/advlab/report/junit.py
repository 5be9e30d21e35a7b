"""JUnit XML: one test case per gate; a failure carries the measured value."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from advlab.report.view import fmt


def render_junit(results: dict[str, Any]) -> str:
    gates = results.get("gates", [])
    failures = sum(1 for g in gates if not g["passed"] and not g.get("error"))
    errors = sum(1 for g in gates if g.get("error"))
    suites = ET.Element(
        "testsuites",
        name="advlab",
        tests=str(len(gates)),
        failures=str(failures),
        errors=str(errors),
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"advlab.assess.{results.get('name')}",
        tests=str(len(gates)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
    )
    props = ET.SubElement(suite, "properties")
    for k in ("seed", "device", "goal", "config_path"):
        ET.SubElement(props, "property", name=k, value=str(results.get(k)))
    for g in gates:
        case = ET.SubElement(suite, "testcase", classname="advlab.gates", name=g["gate"])
        measured = fmt(g.get("value"), 4)
        per = ", ".join(f"{k}={fmt(x, 4)}" for k, x in g.get("per_target", {}).items())
        if g.get("error"):
            el = ET.SubElement(
                case,
                "error",
                message=f"gate could not be evaluated: {g.get('detail')}",
                type="GateError",
            )
            el.text = g.get("detail", "")
        elif not g["passed"]:
            el = ET.SubElement(
                case,
                "failure",
                message=f"measured {measured}, required {g['op']} {g['threshold']:g}",
                type="GateFailed",
            )
            el.text = f"measured {measured} (worst over targets); per target: {per}"
        else:
            out = ET.SubElement(case, "system-out")
            out.text = f"measured {measured}; per target: {per}"
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )

"""The labelled set of outputs and each detector's measured precision and recall.

``data/labelled.jsonl`` (shipped with the package) holds answers written for this project,
one JSON object a line: ``text``, optional ``tool_calls``, the context (``secrets``,
``objective``, ``expected``, ``allowed_hosts``), ``labels`` (detector label -> whether
the failure mode is present) and ``case`` (the edge case it stands for: an encoding of a
secret, a refusal without an apology, a compliant answer that apologises in passing, an
image URL to an allowed host, ...). :func:`measure` runs a detector over the rows that
carry its label and returns a :class:`DetectorMetrics` (precision, recall = sensitivity,
specificity, the confusion counts and the rows it got wrong), which the attack success
rates of a scan use to correct for the detector's errors (:mod:`advlab.llm.stats`).

The set was written alongside the detectors, so it is a development set: its numbers say
what the detectors get right on the cases the project knows about, not on unseen models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from advlab.llm.detectors.base import DetectContext, Detector, Output
from advlab.llm.types import ToolCall


@dataclass(frozen=True)
class Row:
    """One labelled output."""

    id: str
    output: Output
    context: DetectContext
    labels: dict[str, bool]
    case: str


@dataclass
class DetectorMetrics:
    """A detector's confusion counts on the rows labelled for it."""

    detector: str
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0
    wrong: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """Sensitivity: the share of true hits detected."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def specificity(self) -> float:
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "n": self.n,
            "tp": self.tp,
            "fp": self.fp,
            "tn": self.tn,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "specificity": round(self.specificity, 4),
            "wrong": list(self.wrong),
        }


def _row(obj: dict[str, Any]) -> Row:
    calls = tuple(ToolCall(**c) for c in obj.get("tool_calls", []))
    ctx = DetectContext(
        secrets=tuple(obj.get("secrets", ())),
        objective=obj.get("objective"),
        expected=tuple(obj.get("expected", ())),
        allowed_hosts=tuple(obj.get("allowed_hosts", ())),
    )
    return Row(obj["id"], Output(obj["text"], calls), ctx, dict(obj["labels"]), obj.get("case", ""))


def load_rows(path: str | Path | None = None) -> list[Row]:
    """The labelled rows (the shipped set when ``path`` is ``None``)."""
    if path is None:
        return list(_shipped())
    with Path(path).open(encoding="utf-8") as fh:
        return [_row(json.loads(line)) for line in fh if line.strip()]


@lru_cache(maxsize=1)
def _shipped() -> tuple[Row, ...]:
    text = (
        resources.files("advlab.llm.detectors").joinpath("data/labelled.jsonl").read_text("utf-8")
    )
    return tuple(_row(json.loads(line)) for line in text.splitlines() if line.strip())


def measure(detector: Detector, rows: list[Row] | None = None) -> DetectorMetrics:
    """Precision, recall and specificity of ``detector`` on the rows labelled for it."""
    label = detector.label_name()
    m = DetectorMetrics(detector.name)
    for row in rows if rows is not None else load_rows():
        if label not in row.labels:
            continue
        truth = row.labels[label]
        hit = detector.detect(row.output, row.context).hit
        if hit and truth:
            m.tp += 1
        elif hit:
            m.fp += 1
            m.wrong.append(f"{row.id} {row.case} (false alarm)")
        elif truth:
            m.fn += 1
            m.wrong.append(f"{row.id} {row.case} (missed)")
        else:
            m.tn += 1
    return m


def measured_labels(rows: list[Row] | None = None) -> set[str]:
    """The labels present in the set."""
    return {k for r in (rows if rows is not None else load_rows()) for k in r.labels}

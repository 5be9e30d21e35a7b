"""Data model shared by the model-file scanner: severities, findings and reports.

A :class:`Finding` is something a reviewer must look at before the file is loaded. Entries of
severity :attr:`Severity.INFO` are *notes* (for example "this joblib file instantiates the
scikit-learn class X, trusted under ``--trust-sklearn``"); they never change the exit code.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """Ordered severities; the value is used for ranking only."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()


class ExitCode(enum.IntEnum):
    """Process exit codes of ``advlab scan`` (see docs/model_files.md)."""

    CLEAN = 0
    FINDINGS = 1
    ERROR = 2
    NOTHING_SCANNED = 3
    USAGE = 4


@dataclass(frozen=True)
class Finding:
    """One problem found in one location of a scanned file.

    ``location`` is the path of the file, followed by ``!member`` for every archive level, so
    ``model.tar.gz!ckpt.pt!archive/data.pkl`` names the pickle inside the zip inside the tarball.
    ``offset`` is the byte offset inside the innermost member when known.
    """

    rule: str
    severity: Severity
    message: str
    location: str
    offset: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def is_note(self) -> bool:
        return self.severity is Severity.INFO

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.label
        return data


@dataclass
class FileReport:
    """Result of scanning one top-level path."""

    path: str
    formats: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    scanned: bool = False
    bytes_scanned: int = 0

    @property
    def real_findings(self) -> list[Finding]:
        return [f for f in self.findings if not f.is_note]

    @property
    def max_severity(self) -> Severity | None:
        sev = [f.severity for f in self.real_findings]
        return max(sev) if sev else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "formats": self.formats,
            "scanned": self.scanned,
            "bytes_scanned": self.bytes_scanned,
            "findings": [f.to_dict() for f in self.findings],
            "errors": self.errors,
        }


@dataclass
class ScanReport:
    """Result of scanning several paths; :meth:`exit_code` implements the CLI contract."""

    files: list[FileReport] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.files for f in r.real_findings]

    @property
    def notes(self) -> list[Finding]:
        return [f for r in self.files for f in r.findings if f.is_note]

    @property
    def errors(self) -> list[str]:
        return [e for r in self.files for e in r.errors]

    def exit_code(self) -> ExitCode:
        """1 if any finding, else 2 if any error, else 3 if nothing was scanned, else 0.

        Findings win over errors so that an unreadable sibling file never hides a payload.
        """
        if self.findings:
            return ExitCode.FINDINGS
        if self.errors:
            return ExitCode.ERROR
        if not any(r.scanned for r in self.files):
            return ExitCode.NOTHING_SCANNED
        return ExitCode.CLEAN

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": "advlab-scan",
            "exit_code": int(self.exit_code()),
            "summary": {
                "files": len(self.files),
                "scanned": sum(1 for r in self.files if r.scanned),
                "findings": len(self.findings),
                "notes": len(self.notes),
                "errors": len(self.errors),
            },
            "files": [r.to_dict() for r in self.files],
        }

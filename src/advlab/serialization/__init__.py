"""Model-file security: static scanner, safe loading, and payload crafting for the lab.

* :func:`scan_paths` / :mod:`advlab.serialization.scan` — static scanner (``advlab scan``).
* :func:`load_model` / :func:`convert` — safe loading and conversion to safetensors.
* :mod:`advlab.serialization.craft` — payload injection, for authorised testing only.

See docs/model_files.md.
"""

from advlab.serialization.findings import ExitCode, FileReport, Finding, ScanReport, Severity
from advlab.serialization.safe_load import UnsafeModelError, convert, load_model
from advlab.serialization.scan import scan_bytes, scan_file, scan_paths

__all__ = [
    "ExitCode",
    "FileReport",
    "Finding",
    "ScanReport",
    "Severity",
    "UnsafeModelError",
    "convert",
    "load_model",
    "scan_bytes",
    "scan_file",
    "scan_paths",
]

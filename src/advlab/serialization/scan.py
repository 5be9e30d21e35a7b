"""``advlab scan``: static scanner for model files.

Static only: the scanner reads bytes, decompresses containers in memory and simulates pickle
opcodes; it never imports a module named by a file and never unpickles. Formats are detected by
content (:mod:`advlab.serialization.formats`) and containers are walked recursively under
:class:`~advlab.serialization.containers.Limits`.

Why another scanner: modelscan, picklescan and fickling rely on denylists, extensions or
strict container parsing and have a long list of published bypasses (``pip.main``,
``pkgutil.resolve_name``, zip flag/CRC tricks, 7z packaging, pickles broken right after the
payload; see the JFrog, Sonatype and Checkmarx advisories 2024-2025 and "The Art of Hide and
Seek", arXiv 2508.19774, which reports 19 of 22 model-loading paths missed). This scanner
decides with an allowlist (:mod:`advlab.serialization.policy`) and treats anything it cannot
fully analyse as a finding or an error, never as clean.

Example::

    from advlab.serialization.scan import scan_paths
    report = scan_paths(["model.pt"])
    report.exit_code()  # 0 clean, 1 findings, 2 error, 3 nothing scanned
"""

from __future__ import annotations

import ast
import io
import logging
import mmap
import os
import re
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from advlab.serialization import containers, structured
from advlab.serialization.containers import (
    Budget,
    ContainerError,
    CorruptStream,
    LimitExceeded,
    Limits,
)
from advlab.serialization.findings import FileReport, Finding, ScanReport, Severity
from advlab.serialization.formats import Kind, sniff
from advlab.serialization.pickle_analysis import analyze_pickles
from advlab.serialization.policy import Policy
from advlab.serialization.zips import bomb_finding, internal_error, iter_zip

log = logging.getLogger(__name__)

_TORCH_META = re.compile(
    r"^(?P<p>(?:[^/]*/)?)(?:data/\d+|version|byteorder|\.data/version|\.data/serialization_id|"
    r"\.format_version|\.storage_alignment)$"
)


@dataclass
class ScanOptions:
    """Policy and limits for one scan."""

    policy: Policy = field(default_factory=Policy)
    limits: Limits = field(default_factory=Limits)


def _torch_prefix(names: list[str]) -> str | None:
    for n in names:
        if n == "data.pkl" or (n.endswith("/data.pkl") and n.count("/") == 1):
            return n[: -len("data.pkl")]
    return None


class _FileScan:
    """Scans one top-level path; accumulates into a :class:`FileReport`."""

    def __init__(self, report: FileReport, options: ScanOptions, size: int) -> None:
        self.report = report
        self.options = options
        self.budget = Budget(options.limits, source_bytes=size)
        self.deadline = self.budget.deadline
        self.stopped = False  # the file's budget is spent: one finding said so, skip the rest

    def add(self, finding: Finding) -> None:
        self.report.findings.append(finding)

    def fmt(self, name: str) -> None:
        if name not in self.report.formats:
            self.report.formats.append(name)
        self.report.scanned = True

    # ------------------------------------------------------------------ dispatch
    def blob(
        self, buf: Any, location: str, depth: int, opener: Callable[[], IO[bytes]] | None = None
    ) -> None:
        """Scan one byte stream (top-level file or archive member).

        Never raises: limits, malformed containers and internal errors become a finding or an
        error *for this location*, so the caller carries on with the next member.
        """
        if self.stopped:
            return
        if depth > self.options.limits.max_depth:
            self.add(
                Finding(
                    "container.depth",
                    Severity.MEDIUM,
                    f"nesting deeper than {self.options.limits.max_depth} levels; "
                    "content not scanned",
                    location,
                )
            )
            return
        open_ = opener or (lambda: io.BytesIO(buf))
        kind = sniff(bytes(buf[:4096]), len(buf))
        log.debug("%s: %s (%d bytes)", location, kind.value, len(buf))
        self.report.bytes_scanned += len(buf) if depth == 0 else 0
        try:
            self.budget.check_time()
            if kind is Kind.ZIP:
                self.zip(open_, location, depth)
            elif kind in (Kind.TAR,):
                self.fmt("tar")
                with open_() as f:
                    for m in containers.iter_tar(f, location, self.budget):
                        self.member(m, location, depth)
            elif kind is Kind.SEVENZIP:
                self.fmt("7z")
                with open_() as f:
                    for m in containers.iter_7z(f, location, self.budget):
                        self.member(m, location, depth)
            elif kind in (Kind.GZIP, Kind.BZIP2, Kind.XZ, Kind.LZMA, Kind.ZLIB, Kind.LZ4):
                self.stream(kind, buf, open_, location, depth)
            elif kind is Kind.NPY:
                self.npy(buf, location)
            elif kind is Kind.SAFETENSORS:
                self.fmt("safetensors")
                for fnd in structured.check_safetensors(buf, location):
                    self.add(fnd)
            elif kind is Kind.HDF5:
                self.fmt("hdf5")
                for fnd in structured.check_hdf5(buf, location):
                    self.add(fnd)
            elif kind is Kind.PICKLE:
                self.pickle(buf, location, open_, depth)
        except LimitExceeded as exc:
            self.add(bomb_finding(location, exc))
            self.stopped = exc.whole_file
        except ContainerError as exc:
            self.report.errors.append(f"{location}: {exc}")
        except Exception as exc:  # a bug on one member must not hide the next ones
            log.debug(
                "internal error scanning %s", location, exc_info=True
            )  # the report carries it
            self.add(internal_error(location, exc))

    def member(self, m: containers.Member, location: str, depth: int) -> None:
        for f in m.findings:
            self.add(f)
        if m.data:
            self.blob(m.data, f"{location}!{m.name}", depth + 1)

    # ------------------------------------------------------------------ formats
    def zip(self, open_: Callable[[], IO[bytes]], location: str, depth: int) -> None:
        with open_() as f:
            try:
                names = zipfile.ZipFile(f).namelist()
            except Exception:  # any parse failure: iter_zip falls back to local headers
                names = []
            prefix = _torch_prefix(names)
            skip: Callable[[str], bool] | None = None
            if prefix is not None:
                self.fmt("pytorch-zip")

                def skip(name: str) -> bool:
                    m = _TORCH_META.match(name)
                    return bool(m and m.group("p") == prefix)

                if any(n.startswith(f"{prefix}code/") for n in names):
                    self.add(
                        Finding(
                            "torch.torchscript",
                            Severity.MEDIUM,
                            "TorchScript archive: torch.load hands it to torch.jit.load, which "
                            "runs the serialized TorchScript code",
                            location,
                        )
                    )
            elif structured.is_keras_zip(names):
                self.fmt("keras")
            else:
                self.fmt("zip")
            keras = structured.is_keras_zip(names)
            for m in iter_zip(f, location, self.budget, skip):
                if keras and m.name == "config.json":
                    for fnd in m.findings:
                        self.add(fnd)
                    loc = f"{location}!{m.name}"
                    try:
                        for fnd in structured.check_keras_json(m.data, loc):
                            self.add(fnd)
                    except Exception as exc:  # a bug here must not hide the next members
                        log.debug(
                            "internal error scanning %s", loc, exc_info=True
                        )  # the report carries it
                        self.add(internal_error(loc, exc))
                    continue
                self.member(m, location, depth)

    def stream(
        self, kind: Kind, buf: Any, open_: Callable[[], IO[bytes]], location: str, depth: int
    ) -> None:
        """A compressed stream; a truncated or corrupt one still has its decoded prefix scanned."""
        with open_() as f:
            try:
                inner = containers.decompress_stream(kind.value, f, len(buf), self.budget)
            except CorruptStream as exc:
                if not exc.partial:
                    return self._undecodable(kind, buf, location, open_, depth, exc)
                self.add(exc.finding(location))
                inner = exc.partial
            except ContainerError as exc:
                return self._undecodable(kind, buf, location, open_, depth, exc)
        self.fmt(kind.value)
        self.blob(inner, f"{location}!<{kind.value}>", depth + 1)

    def _undecodable(
        self,
        kind: Kind,
        buf: Any,
        location: str,
        open_: Callable[[], IO[bytes]],
        depth: int,
        exc: ContainerError,
    ) -> None:
        """Nothing decoded: a false zlib sniff may be a pickle after all, else an error."""
        if kind is not Kind.ZLIB:
            raise exc
        self.pickle(buf, location, open_, depth)

    def npy(self, buf: Any, location: str) -> None:
        self.fmt("npy")
        findings, pickle_at = structured.check_npy(buf, location)
        for f in findings:
            self.add(f)
        if pickle_at is not None:
            self.run_pickle(buf, location, pickle_at)

    def run_pickle(self, buf: Any, location: str, start: int = 0) -> bool:
        budget = max(1.0, self.deadline - time.monotonic())
        res = analyze_pickles(buf, location, self.options.policy, start=start, time_budget_s=budget)
        for f in res.findings:
            self.add(f)
        if res.is_pickle:
            self.fmt("pickle-torch-legacy" if res.torch_legacy else "pickle")
        return res.is_pickle

    def pickle(self, buf: Any, location: str, open_: Callable[[], IO[bytes]], depth: int) -> None:
        is_pickle = self.run_pickle(buf, location)
        # polyglot: a zip central directory at the end of a pickle (or of unknown bytes)
        with open_() as f:
            try:
                is_zip = zipfile.is_zipfile(f)
            except Exception:  # zipfile raises BadZipFile for multi-disk etc.
                is_zip = False
        if is_zip:
            if is_pickle:
                self.add(
                    Finding(
                        "polyglot.pickle-zip",
                        Severity.LOW,
                        "file is both a pickle and a zip archive (polyglot)",
                        location,
                    )
                )
            self.zip(open_, location, depth)


_SOURCE_LIMIT = 4 << 20


def _python_source(p: Path, size: int, report: FileReport) -> bool:
    """A ``.py`` file that parses as Python (``ast.parse``: nothing runs) is source code, not a
    model file: report it as an INFO note, since Hugging Face runs such files only with
    ``trust_remote_code=True``. A ``.py`` file that is not Python is scanned like any file."""
    if p.suffix.lower() != ".py" or not 0 < size <= _SOURCE_LIMIT:
        return False
    try:
        ast.parse(p.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    report.formats.append("python-source")
    report.findings.append(
        Finding(
            "source.python",
            Severity.INFO,
            "Python source, not a model file: it runs only if code imports it, e.g. "
            "transformers with trust_remote_code=True; review it before trusting it",
            str(p),
        )
    )
    return True


def scan_file(path: str | os.PathLike[str], options: ScanOptions | None = None) -> FileReport:
    """Scan one regular file. Never raises for content problems; see ``FileReport.errors``."""
    options = options or ScanOptions()
    p = Path(path)
    report = FileReport(path=str(p))
    try:
        if not p.is_file():
            report.errors.append(f"{p}: not a regular file")
            return report
        size = p.stat().st_size
        if _python_source(p, size, report):
            return report
        scan = _FileScan(report, options, size)
        with open(p, "rb") as fh:
            if size == 0:
                report.errors.append(f"{p}: empty file")
                return report
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                scan.blob(mm, str(p), 0, lambda: open(p, "rb"))
    except OSError as exc:
        report.errors.append(f"{p}: {exc}")
    except Exception as exc:  # last line of defence: report, never crash the caller
        log.debug("internal error scanning %s", p, exc_info=True)  # the report carries it
        report.errors.append(f"{p}: internal error: {type(exc).__name__}: {exc}")
    return report


def scan_bytes(
    data: bytes, name: str = "<bytes>", options: ScanOptions | None = None
) -> FileReport:
    """Scan an in-memory byte string (used by fuzzing and by :func:`load_model`)."""
    options = options or ScanOptions()
    report = FileReport(path=name)
    scan = _FileScan(report, options, len(data))
    if not data:
        report.errors.append(f"{name}: empty input")
        return report
    try:
        scan.blob(data, name, 0)
    except Exception as exc:
        log.debug("internal error scanning %s", name, exc_info=True)  # the report carries it
        report.errors.append(f"{name}: internal error: {type(exc).__name__}: {exc}")
    return report


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand directories recursively (no symlinked directories); keep file order stable."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for name in sorted(files):
                    fp = Path(root) / name
                    if fp.is_file():
                        out.append(fp)
        else:
            out.append(p)
    return out


def scan_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    trust_sklearn: bool = False,
    extra_allow: Iterable[str] = (),
    limits: Limits | None = None,
) -> ScanReport:
    """Scan files and directories; the main library entry point."""
    options = ScanOptions(
        policy=Policy(trust_sklearn=trust_sklearn, extra_allow=frozenset(extra_allow)),
        limits=limits or Limits(),
    )
    report = ScanReport()
    for fp in iter_files(paths):
        if not fp.exists():
            fr = FileReport(path=str(fp))
            fr.errors.append(f"{fp}: no such file")
            report.files.append(fr)
            continue
        report.files.append(scan_file(fp, options))
    return report

"""CLI for ``advlab scan`` and ``advlab convert``.

Plain functions (:func:`scan_command`, :func:`convert_command`) return the exit code; the typer
wrappers :func:`scan_cli` / :func:`convert_cli` are mounted into the main ``advlab`` app. Use
``cls=Exit4Command`` when mounting so that click usage errors exit with 4, as documented::

    main_app.command("scan", cls=Exit4Command)(scan_cli)
    main_app.command("convert", cls=Exit4Command)(convert_cli)

Exit codes of ``scan``: 0 clean, 1 findings, 2 error (a missing path too), 3 nothing
scanned, 4 usage error.
Exit codes of ``convert``: 0 converted, 1 refused (unsafe), 2 error, 4 usage error.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from advlab.serialization.findings import ExitCode, ScanReport, Severity
from advlab.serialization.sarif import to_sarif
from advlab.serialization.scan import scan_paths

try:  # typer >= 0.17 vendors click as typer._click
    from typer._click.exceptions import UsageError as _UsageError
except ImportError:  # pragma: no cover - older typer uses click directly
    from click import UsageError as _UsageError  # type: ignore[assignment]

log = logging.getLogger(__name__)

FORMATS = ("text", "json", "sarif")


class Exit4Command(TyperCommand):
    """Typer command whose click usage errors exit with code 4 instead of click's 2."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return list(super().parse_args(ctx, args))
        except _UsageError as exc:
            exc.exit_code = int(ExitCode.USAGE)
            raise


def render_text(report: ScanReport, *, show_notes: bool = False) -> str:
    """Human-readable report."""
    lines: list[str] = []
    for fr in report.files:
        status = "error" if fr.errors else ("not a model file" if not fr.scanned else "clean")
        if fr.real_findings:
            top = fr.max_severity
            status = f"{len(fr.real_findings)} finding(s), max {top.label if top else '?'}"
        fmt = f" [{', '.join(fr.formats)}]" if fr.formats else ""
        lines.append(f"{fr.path}{fmt}: {status}")
        for f in sorted(fr.findings, key=lambda x: -x.severity):
            if f.is_note and not show_notes:
                continue
            where = f.location + (f" @{f.offset}" if f.offset is not None else "")
            lines.append(f"  {f.severity.label.upper():8} {f.rule}: {f.message}  ({where})")
        for e in fr.errors:
            lines.append(f"  ERROR    {e}")
    n = len(report.findings)
    sev = max((f.severity for f in report.findings), default=Severity.INFO)
    lines.append(
        f"scanned {sum(r.scanned for r in report.files)}/{len(report.files)} file(s): "
        f"{n} finding(s)"
        + (f", max severity {sev.label}" if n else "")
        + f", {len(report.errors)} error(s); exit {int(report.exit_code())}"
    )
    return "\n".join(lines)


def scan_command(
    paths: list[Path],
    format: str = "text",
    output: Path | None = None,
    *,
    trust_sklearn: bool = False,
    allow: list[str] | None = None,
    show_notes: bool = False,
) -> int:
    """Scan ``paths``; write the report to ``output`` or stdout; return the exit code."""
    if format not in FORMATS:
        typer.echo(f"error: unknown format {format!r}; choose from {', '.join(FORMATS)}", err=True)
        return int(ExitCode.USAGE)
    if not paths:
        typer.echo("error: no paths given", err=True)
        return int(ExitCode.USAGE)
    missing = [p for p in paths if not p.exists()]
    if missing:  # bad input, not a usage error: exit 2 as for every missing input file
        typer.echo(f"error: no such file or directory: {', '.join(map(str, missing))}", err=True)
        return int(ExitCode.ERROR)
    report = scan_paths(paths, trust_sklearn=trust_sklearn, extra_allow=allow or ())
    if format == "json":
        text = json.dumps(report.to_dict(), indent=2)
    elif format == "sarif":
        text = json.dumps(to_sarif(report), indent=2)
    else:
        text = render_text(report, show_notes=show_notes)
    if output is not None:
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            typer.echo(f"error: cannot write {output}: {exc}", err=True)
            return int(ExitCode.ERROR)
    else:
        typer.echo(text)
    return int(report.exit_code())


def convert_command(src: Path, dst: Path, *, allow: list[str] | None = None) -> int:
    """Convert a weights-only checkpoint to safetensors; return the exit code. Prints the
    checkpoint entries left out (optimizer state, epoch, hyper-parameters...)."""
    from advlab.serialization.safe_load import UnsafeModelError, convert_checkpoint

    if not src.is_file():
        typer.echo(f"error: no such file: {src}", err=True)
        return int(ExitCode.ERROR)
    if dst.exists() and dst.is_dir():
        typer.echo(f"error: destination is a directory: {dst}", err=True)
        return int(ExitCode.USAGE)
    try:
        done = convert_checkpoint(src, dst, allowlist=allow or ())
    except UnsafeModelError as exc:
        typer.echo(f"refused: {exc}", err=True)
        return 1
    except (ValueError, OSError, RuntimeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        return int(ExitCode.ERROR)
    typer.echo(f"wrote {dst} ({done.tensors} tensors)")
    if done.dropped:
        typer.echo(
            f"dropped {len(done.dropped)} non-weight entr{'y' if len(done.dropped) == 1 else 'ies'} (safetensors holds tensors only):"
        )
        for key, what in done.dropped.items():
            typer.echo(f"  {key}: {what}")
    return 0


def scan_cli(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to scan.")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="Output format: text, json or sarif.")
    ] = "text",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file.")
    ] = None,
    trust_sklearn: Annotated[
        bool,
        typer.Option("--trust-sklearn", help="Treat scikit-learn estimator classes as notes."),
    ] = False,
    allow: Annotated[
        list[str] | None,
        typer.Option("--allow", help="Extra allowlisted global, e.g. mypkg.layers.MyLayer."),
    ] = None,
    show_notes: Annotated[bool, typer.Option("--notes", help="Also print info notes.")] = False,
) -> None:
    """Statically scan model files for code (pickle, torch, joblib, numpy, Keras, archives).

    Exit codes: 0 clean, 1 findings, 2 error, 3 nothing scanned, 4 usage error.
    """
    if output is not None and str(output) == "-":
        output = None  # "-o -" is stdout
    code = scan_command(
        paths, format, output, trust_sklearn=trust_sklearn, allow=allow, show_notes=show_notes
    )
    raise typer.Exit(code)


def convert_cli(
    src: Annotated[Path, typer.Argument(help="Weights-only PyTorch checkpoint.")],
    dst: Annotated[Path, typer.Argument(help="Destination .safetensors file.")],
    allow: Annotated[
        list[str] | None,
        typer.Option(
            "--allow",
            help="Extra class the checkpoint may reference, e.g. mypkg.layers.MyTensor "
            "(imported; as load_model(allowlist=)).",
        ),
    ] = None,
) -> None:
    """Convert a weights-only checkpoint to safetensors without ever unpickling code; lists
    the entries it leaves out (optimizer state, hyper-parameters).

    Exit codes: 0 converted, 1 refused (unsafe), 2 error, 4 usage error.
    """
    raise typer.Exit(convert_command(src, dst, allow=allow))


app = typer.Typer(help="Model-file security: scan and convert.", no_args_is_help=True)
app.command("scan", cls=Exit4Command)(scan_cli)
app.command("convert", cls=Exit4Command)(convert_cli)

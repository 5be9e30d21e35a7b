"""Command-line functions: ``assess``, ``init``, ``validate``, ``report``, ``schema``.

:func:`register` mounts them on a Typer app. Exit codes: 0 every gate passes; 1 a gate
failed (0 with ``--soft-fail``); 2 an error; 3 nothing assessed; 4 a usage error;
5 inconclusive (a blocking sanity finding the config does not accept).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from advlab.assess.config import AssessmentConfig
from advlab.assess.runner import (
    EXIT_ERROR,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_USAGE,
    AssessmentInterrupted,
    RunDirError,
    exit_code,
)
from advlab.errors import AdvlabError, ConfigError, one_line
from advlab.paths import output_dir, output_file
from advlab.utils import set_quiet
from advlab.validation import device as check_device

log = logging.getLogger(__name__)

EXAMPLE_CONFIG = """\
# advlab assessment config (schema version 1). Validate with: advlab validate THIS_FILE
# Run with: advlab assess THIS_FILE --out runs/digits   (add --resume to continue a run)
version: 1
name: digits-robustness

# What is attacked. kinds: model (advlab .safetensors + .json), onnx, http, python
# ("module:function" returning a Target), reference (an advlab model trained on embedded data).
targets:
  - kind: reference            # e.g. kind: model, path: models/digits.safetensors
    name: standard
    dataset: digits
    train: {epochs: 20}
  - kind: reference
    name: adv-trained
    dataset: digits
    train: {epochs: 20, adversarial: pgd, adv_eps: 0.1, adv_steps: 5}

# Defended variants: each defense wraps every target (or only `targets: [...]`), so the
# report shows before and after.
defenses:
  - name: bit_depth
    params: {bits: 3}
    targets: [standard]

# The points attacked: an embedded dataset (digits, breast_cancer, wine, synthetic) or a file.
data: {dataset: digits, split: test, n: 200, seed: 0}

threat_model:
  goal: evasion                # evasion | extraction | inference | poisoning
  knowledge: white-box         # white-box | grey-box | black-box
  access: gradients            # gradients | scores | labels
  query_budget: null           # queries per point per attack (null: unlimited)
  perturbation:
    norm: linf                 # linf | l2 | l1
    eps: [0.05, 0.1, 0.2]      # fractions such as 8/255 work too
    bounds: null               # default: the target's own input bounds
    immutable: []              # flat indices of features the attacker cannot change

# Omit `attacks` for the recommended suite of the threat model.
attacks:
  - fgsm
  - {name: pgd, params: {steps: 40, restarts: 1}}

# CI gates; without target= a gate must hold for every target and defended variant.
gates:
  - robust_accuracy(linf, 0.1, target=adv-trained) >= 0.50
  - clean_accuracy(target=standard) >= 0.90

seed: 0
executor: {name: serial}       # serial | processes (workers: N) | ray (address: auto)
"""


def _fail(msg: str, code: int) -> typer.Exit:
    typer.echo(f"error: {one_line(msg)}", err=True)
    return typer.Exit(code)


def assess(
    config: Path = typer.Argument(..., help="Assessment config (YAML)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory."),
    resume: bool = typer.Option(False, "--resume", help="Continue a run; finished tasks are kept."),
    executor: Optional[str] = typer.Option(None, "--executor", help="serial | processes | ray"),
    workers: Optional[int] = typer.Option(
        None, "--workers", help="Processes (or Ray CPUs) for --executor processes / ray."
    ),
    soft_fail: bool = typer.Option(False, "--soft-fail", help="Exit 0 even when a gate fails."),
    device: Optional[str] = typer.Option(
        None,
        "--device",
        help="auto | cpu | cuda[:N] | mps for every target (default: each target's own)",
        callback=lambda v: v if v is None else check_device(v),
    ),
    seed: Optional[int] = typer.Option(
        None, "--seed", help="Seed of every attack (default: the config's seed)."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress bars or info logs (gates and errors still)."
    ),
) -> None:
    """Run an assessment and write the run directory and its reports."""
    from advlab.assess.runner import run_assessment

    setup_output(quiet)
    if not config.is_file():  # bad input, as `validate` says it: exit 2
        raise _fail(f"config file not found: {config}", EXIT_ERROR)
    if executor is not None and executor not in ("serial", "processes", "ray"):
        raise _fail(f"--executor must be serial, processes or ray, got {executor!r}", EXIT_USAGE)
    if workers is not None and workers < 1:
        raise _fail(f"--workers must be >= 1, got {workers}", EXIT_USAGE)
    try:
        cfg = with_overrides(check_before_running(config, out), device=device, seed=seed)
        outcome = run_assessment(
            cfg,
            out,
            resume=resume,
            executor=executor,
            workers=workers,
            config_dir=config.resolve().parent,
            source=config,
        )
    except RunDirError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    except AssessmentInterrupted as exc:
        raise _fail(str(exc), EXIT_ERROR) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; continue with --resume", EXIT_ERROR) from None
    except AdvlabError as exc:
        raise _fail(str(exc), EXIT_ERROR) from None
    res = outcome.results
    c = res["counts"]
    typer.echo(
        f"{c['ok']} tasks ok, {c['skipped']} skipped, {c['error']} failed "
        f"({outcome.reused} reused from an earlier run)",
        err=True,
    )
    for g in res["gates"]:
        status = "PASS" if g["passed"] else "FAIL"
        val = "n/a" if g["value"] is None else f"{g['value']:.4f}"
        typer.echo(f"  {status}  {g['gate']}  (measured {val})", err=True)
    n_warn = sum(1 for w in res["sanity"] if w["severity"] != "note")
    if n_warn:
        typer.echo(f"  {n_warn} sanity warning(s): see the report", err=True)
    html = outcome.run_dir / "report.html"
    typer.echo(str(html if html.exists() else outcome.run_dir))
    code = exit_code(res, soft_fail=soft_fail)
    if code == EXIT_NOTHING:
        typer.echo("error: nothing was assessed (every task was skipped or failed)", err=True)
    elif res.get("verdict") == "INCONCLUSIVE":
        typer.echo(f"verdict INCONCLUSIVE: {res.get('verdict_reason')}", err=True)
    raise typer.Exit(code)


def setup_output(quiet: bool) -> None:
    """``--quiet``: no progress bars or info logs; otherwise info logs (the periodic
    progress lines of runs without a terminal) go to stderr."""
    set_quiet(quiet)
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def with_overrides(
    cfg: AssessmentConfig, *, device: str | None = None, seed: int | None = None
) -> AssessmentConfig:
    """The config with the command line's ``--device`` (every target) and ``--seed``
    (every attack) applied; both are recorded in the run directory's config."""
    update: dict[str, object] = {}
    if seed is not None:
        update["seed"] = seed
    if device is not None:
        update["targets"] = [t.model_copy(update={"device": device}) for t in cfg.targets]
    return cfg.model_copy(update=update) if update else cfg


def check_before_running(config: Path, out: Path | None) -> AssessmentConfig:
    """Everything ``validate`` checks (python targets are not imported here), and the run
    directory, before any work starts. Returns the parsed config."""
    from advlab.assess.config import load_config
    from advlab.assess.preflight import preflight
    from advlab.assess.runner import check_config

    cfg = load_config(config)
    check_config(cfg)
    preflight(cfg, config.resolve().parent)
    if out is not None:
        output_dir(out, what="run directory")
    return cfg


def init(
    path: Path = typer.Argument(Path("advlab-assess.yaml"), help="Where to write the example."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write an annotated example config (``-`` prints it to stdout)."""
    if str(path) == "-":
        sys.stdout.write(EXAMPLE_CONFIG)
        return
    if path.exists() and not force:
        raise _fail(f"{path} exists; pass --force to overwrite it", EXIT_USAGE)
    try:
        output_file(path, what="config file")
    except AdvlabError as exc:
        raise _fail(str(exc), EXIT_ERROR) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EXAMPLE_CONFIG)
    typer.echo(str(path))


def validate(
    config: Path = typer.Argument(..., help="Assessment config (YAML)."),
    probe: bool = typer.Option(
        False,
        "--probe",
        help="Also import python targets (runs their code), and send every target one query.",
    ),
) -> None:
    """Check a config without running anything: schema, names, plugin parameters, file paths,
    gates and access. Python targets are code: they are imported only with --probe."""
    from advlab.assess.config import load_config
    from advlab.assess.preflight import describe_targets, preflight
    from advlab.assess.runner import check_config, plan

    try:
        cfg = load_config(config)
        check_config(cfg)
        notes = preflight(cfg, config.resolve().parent, probe=probe)
        found = describe_targets(cfg, config.resolve().parent, probe=probe)
        tasks = plan(cfg, config.resolve().parent)
    except ConfigError as exc:
        raise _fail(str(exc), EXIT_ERROR) from None
    except AdvlabError as exc:
        raise _fail(str(exc), EXIT_ERROR) from None
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    for line in found:
        typer.echo(line)
    suite = sum(1 for t in tasks if t.role == "suite")
    llm = cfg.threat_model.goal == "llm"
    typer.echo(
        f"{config}: valid ({len(cfg.targets) + llm} target(s), {suite} "
        f"{'probe' if llm else 'attack'} task(s), "
        f"{len(tasks) - suite} sanity task(s), {len(cfg.gates)} gate(s))"
    )


def report(
    run_dir: Path = typer.Argument(..., help="A run directory."),
    format: list[str] = typer.Option(
        ["html"], "--format", "-f", help="html | md | json | junit | sarif (repeatable)"
    ),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file (one format)."),
    out_dir: Optional[Path] = typer.Option(
        None, "--out-dir", help="Folder for the reports (several formats)."
    ),
    soft_fail: bool = typer.Option(False, "--soft-fail", help="Exit 0 even when a gate fails."),
) -> None:
    """Render reports of a run directory to stdout, --out or --out-dir (never re-runs
    attacks, never modifies the run directory)."""
    from advlab.assess.runner import load_results
    from advlab.report import FORMATS, render, render_text

    bad = [f for f in format if f not in FORMATS]
    if bad:
        raise _fail(f"unknown format(s) {bad}; expected: {', '.join(FORMATS)}", EXIT_USAGE)
    if out is not None and len(format) != 1:
        raise _fail("--out needs exactly one --format", EXIT_USAGE)
    if out is None and out_dir is None and len(format) != 1:
        raise _fail("several formats need --out-dir (one format prints to stdout)", EXIT_USAGE)
    if not (run_dir / "run.json").is_file() and not (run_dir / "results.json").is_file():
        raise _fail(f"{run_dir} is not an advlab run directory (no run.json)", EXIT_USAGE)
    if out is not None and str(out) == "-":
        out = None  # "-o -" is stdout
    try:
        if out is not None:
            output_file(out, what="report file")
        if out_dir is not None:
            output_dir(out_dir, what="report folder")
        results = load_results(run_dir)
        for f in format:
            if out is None and out_dir is None:
                sys.stdout.write(render_text(results, f, base=run_dir).rstrip("\n") + "\n")
                continue
            path = out if out is not None else out_dir / FORMATS[f]  # type: ignore[operator]
            typer.echo(str(render(run_dir, f, out=path, results=results)))
    except AdvlabError as exc:
        raise _fail(str(exc), EXIT_ERROR) from None
    raise typer.Exit(exit_code(results, soft_fail=soft_fail))


def schema(
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to a file."),
) -> None:
    """Print the JSON Schema of assessment configs."""
    from advlab.assess.config import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if out is None or str(out) == "-":
        sys.stdout.write(text)
    else:
        try:
            output_file(out, what="schema file")
        except AdvlabError as exc:
            raise _fail(str(exc), EXIT_ERROR) from None
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        typer.echo(str(out))


def register(app: typer.Typer) -> None:
    """Mount ``assess``, ``init``, ``validate``, ``report`` and ``schema`` on ``app``."""
    app.command("assess")(assess)
    app.command("init")(init)
    app.command("validate")(validate)
    app.command("report")(report)
    app.command("schema")(schema)


def _usage_error_types() -> tuple[type[BaseException], ...]:
    """Click's UsageError, wherever this typer version keeps click."""
    types: list[type[BaseException]] = []
    for mod in ("typer._click.exceptions", "click.exceptions"):
        try:
            m = __import__(mod, fromlist=["UsageError"])
            types.append(m.UsageError)
        except ImportError:
            continue
    return tuple(types)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m advlab.assess``); usage errors exit 4."""
    app = typer.Typer(
        add_completion=False,
        no_args_is_help=True,
        help="advlab assessments (standalone entry point)",
    )
    register(app)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    usage = _usage_error_types()
    try:
        rc = app(args=argv, standalone_mode=False)
    except usage as exc:
        typer.echo(f"error: {one_line(exc.format_message())}", err=True)  # type: ignore[attr-defined]
        return EXIT_USAGE
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        return EXIT_ERROR
    return int(rc) if isinstance(rc, int) else EXIT_OK

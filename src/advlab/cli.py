"""The ``advlab`` command line: thin wrappers over library functions, with exit codes.

Errors that advlab raises on purpose are printed as one line (no traceback) with exit 2.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from advlab import validation as v
from advlab.errors import AdvlabError, one_line
from advlab.paths import output_dir, output_file
from advlab.utils import set_quiet
from advlab.vocab import DEFAULT_EPS

app = typer.Typer(
    name="advlab",
    help="advlab: attack and assess your own models before an adversary does.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)  # errors stay on one line


def _print_version(value: bool) -> None:
    if value:
        from advlab import __version__

        typer.echo(f"advlab {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="print the version and exit", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """advlab: attack and assess your own models before an adversary does."""


Device = Annotated[
    str, typer.Option("--device", help="auto | cpu | cuda[:N] | mps", callback=v.device)
]
Seed = Annotated[int, typer.Option("--seed", help="random seed")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars or info logs")]


def _setup(quiet: bool) -> None:
    set_quiet(quiet)
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command("list")
def list_cmd(
    what: Annotated[
        str,
        typer.Argument(help="attacks | defenses | datasets | all | a family (evasion, ...)"),
    ] = "all",
    family: Annotated[
        str | None, typer.Option("--family", help="only this family (evasion, defense, ...)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the metadata as JSON")] = False,
) -> None:
    """List plugins (family, tags, capability flags, paper link), datasets and broken plugins."""
    from advlab.listing import listing, tables

    section = family or what
    if as_json:
        typer.echo(json.dumps(listing(section), indent=2))
        return
    # piped or redirected: no 80-column default, so rows stay whole for grep
    con = out if out.is_terminal else Console(width=LIST_WIDTH, soft_wrap=False)
    for t in tables(section):
        con.print(t)


LIST_WIDTH = 1000
"""Width of ``advlab list`` tables when stdout is not a terminal."""


@app.command()
def train(
    dataset: Annotated[str, typer.Argument(help="embedded dataset name or a .npz/.csv file")],
    output: Annotated[Path, typer.Option("--out", "-o", help="output .safetensors path")] = Path(
        "model.safetensors"
    ),
    arch: Annotated[
        str | None,
        typer.Option(
            help="cnn | resnet | mlp (default: by data shape)",
            callback=v.choice(ARCHS, optional=True),
        ),
    ] = None,
    epochs: Annotated[int, typer.Option(callback=v.integer(ge=1))] = 30,
    lr: Annotated[float, typer.Option(callback=v.positive)] = 1e-3,
    adversarial: Annotated[
        str | None,
        typer.Option(help="pgd | trades", callback=v.choice(("pgd", "trades"), optional=True)),
    ] = None,
    adv_eps: Annotated[float, typer.Option(callback=v.positive)] = 0.1,
    device: Device = "auto",
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Train a reference model and save it as safetensors + JSON metadata."""
    _setup(quiet)
    from advlab.data import load_dataset
    from advlab.models import TrainConfig, accuracy, build, default_spec, save_model, train_model

    output = output_file(output, suffix=".safetensors", what="model file")
    output_file(output.with_suffix(".json"), what="model metadata file")
    cfg = TrainConfig(epochs=epochs, lr=lr, seed=seed, adversarial=adversarial, adv_eps=adv_eps)
    cfg.validate()
    ds = load_dataset(dataset, seed=seed)
    spec = default_spec(ds.input_shape, ds.num_classes, arch)
    model = train_model(
        build(spec, seed=seed), ds.x_train, ds.y_train, cfg, bounds=ds.bounds, device=device
    )
    model = model.cpu()
    metrics = {
        "train_accuracy": accuracy(model, ds.x_train, ds.y_train),
        "test_accuracy": accuracy(model, ds.x_test, ds.y_test),
    }
    path = save_model(
        model,
        output,
        {
            "arch": spec,
            "input_shape": list(ds.input_shape),
            "num_classes": ds.num_classes,
            "bounds": list(ds.bounds),
            "class_names": ds.class_names,
            "dataset": {"name": dataset, "seed": seed},
            "train": cfg.to_dict(),
            "metrics": metrics,
        },
    )
    out.print(f"saved {path} (test accuracy {metrics['test_accuracy']:.4f})")


ARCHS = ("cnn", "resnet", "mlp")
"""Architectures ``advlab train --arch`` accepts (see :func:`advlab.models.default_spec`)."""

CLI_OWNED_PARAMS = ("eps", "norm", "seed")
"""Attack parameters that ``advlab attack`` sets from its own options; ``--param`` may not."""


def _parse_params(items: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise AdvlabError(f"--param expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        try:
            params[k] = json.loads(v)
        except json.JSONDecodeError:
            params[k] = v
    return params


ATTACK_COLUMNS = (
    "eps",
    "clean_accuracy",
    "robust_accuracy",
    "success_rate",
    "queries_per_point",
    "gradient_calls_per_point",
    "seconds",
)
"""Columns of ``advlab attack``'s table: keys of :meth:`EvasionResult.summary`."""


DEMO_COLUMNS = ("target", "attack", "eps", "clean_accuracy", "robust_accuracy")
"""Columns of ``advlab demo``'s table: the task's target and the result's summary keys."""


def _cell(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


@app.command()
def attack(
    model: Annotated[
        str,
        typer.Argument(
            help="model: advlab .safetensors, .onnx, .keras, a Hugging Face folder, or "
            "module:function returning a Target (imported from the current folder)"
        ),
    ],
    dataset: Annotated[str, typer.Argument(help="embedded dataset name or a .npz/.csv file")],
    name: Annotated[
        str, typer.Option("--attack", "-a", help="attack name (see advlab list)")
    ] = "pgd",
    eps: Annotated[
        list[float] | None,
        typer.Option(
            "--eps",
            help="repeat for a sweep (default 8/255: advlab.vocab.DEFAULT_EPS)",
            callback=v.positive,
        ),
    ] = None,
    norm: Annotated[str, typer.Option(callback=v.choice(("linf", "l2", "l1")))] = "linf",
    n: Annotated[
        int, typer.Option("--n", help="test points to attack", callback=v.integer(ge=1))
    ] = 500,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value")] = None,
    query_budget: Annotated[
        int | None,
        typer.Option(
            "--query-budget", help="total query budget on the target", callback=v.integer(ge=1)
        ),
    ] = None,
    max_queries: Annotated[
        int | None,
        typer.Option(
            "--max-queries",
            hidden=True,
            help="deprecated: --query-budget",
            callback=v.integer(ge=1),
        ),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write results here")] = None,
    device: Device = "auto",
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Attack a saved model on test data; print a robust-accuracy table and write JSON."""
    _setup(quiet)
    from advlab.data import load_dataset
    from advlab.registry import get_attack

    if max_queries is not None:
        if query_budget is not None:
            raise AdvlabError("give --query-budget, not both it and the deprecated --max-queries")
        err.print("[yellow]warning:[/] --max-queries is deprecated, use --query-budget")
        query_budget = max_queries
    cls = get_attack(name)
    if getattr(cls, "family", "") != "evasion":
        raise AdvlabError(
            f"{name} is a {getattr(cls, 'kind', '?')} attack; `advlab attack` runs evasion attacks "
            "(use an assessment config for the other threats)"
        )
    if json_out is not None:
        json_out = output_file(json_out, what="--json file")
    user = _parse_params(param or [])
    clash = sorted(set(user) & set(CLI_OWNED_PARAMS))
    if clash:
        raise typer.BadParameter(
            f"{', '.join(clash)} cannot be given with --param; use --{clash[0]} "
            "(the attack command sets it)",
            param_hint="--param",
        )
    params = {"norm": norm, "seed": seed, **user}
    unknown = sorted(set(params) - set(cls._param_names()))
    if unknown:
        raise AdvlabError(
            f"{name}: unknown parameter(s) {', '.join(unknown)}; "
            f"valid: {', '.join(sorted(cls._param_names()))}"
        )
    atk = cls(**params)
    atk.check_params()
    target = _open_target(model, device=device, query_budget=query_budget)
    ds = load_dataset(dataset, seed=0)
    x, y = ds.x_test[:n], ds.y_test[:n]
    eps_list = eps or [DEFAULT_EPS]
    sweep = atk.sweep(target, x, y, eps=eps_list)
    t = Table(title=f"{name} on {Path(model).name} ({len(x)} points, {norm})")
    for c in ATTACK_COLUMNS:
        t.add_column(c, justify="right")
    for r in sweep.results:
        s = r.summary()
        t.add_row(*(_cell(s[c]) for c in ATTACK_COLUMNS))
    out.print(t)
    if sweep.stopped_early:
        err.print(f"[yellow]stopped early: {sweep.results[-1].message}[/]")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(sweep.to_dict(arrays=False), indent=1))
        out.print(f"results written to {json_out}")


def _open_target(model: str, *, device: str, query_budget: int | None) -> Any:
    """A target from a model file or folder, or from a ``module:function`` entry point."""
    from advlab.targets.files import open_model_file

    path = Path(model)
    if not path.exists() and re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", model):
        from pydantic import ValidationError

        from advlab.assess.build import _build_base
        from advlab.assess.config import EntryPointTarget

        try:
            spec = EntryPointTarget.model_validate({"entry": model, "device": device})
        except ValidationError as exc:
            raise AdvlabError(str(exc.errors()[0]["msg"])) from None
        target = _build_base(spec, Path.cwd())
        if query_budget is not None:
            target.meter.query_budget = query_budget
        return target
    kwargs: dict[str, Any] = {"query_budget": query_budget} if query_budget is not None else {}
    return open_model_file(path, device=device, **kwargs)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="run directory")] = Path(
        "advlab-results/demo"
    ),
    quick: Annotated[bool, typer.Option("--quick", help="fewer points and steps")] = False,
    device: Device = "auto",
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Default assessment on embedded digits: a standard, an adversarially trained and a
    bit-depth-defended CNN against a suite of evasion attacks; prints the robust-accuracy
    table and writes the run directory with the HTML report."""
    _setup(quiet)
    from advlab.assess.demo import run_demo
    from advlab.assess.runner import load_results
    from advlab.report.view import build_view

    output_dir(out_dir, what="run directory")
    report = run_demo(out_dir, device=device, seed=seed, quick=quick)
    view = build_view(load_results(report.parent))
    t = Table(title="robust accuracy on digits (L-inf)")
    for c in DEMO_COLUMNS:
        t.add_column(c, justify="left" if c in ("target", "attack") else "right")
    rows = [r for r in view.rows if r.status == "ok" and r.eps is not None]
    for r in sorted(rows, key=lambda r: (r.variant, r.attack, r.eps)):
        t.add_row(r.variant, r.attack, _cell(r.eps), _cell(r.clean), _cell(r.robust))
    out.print(t)
    for w in view.warnings:
        err.print(
            f"[yellow]sanity warning[/] ({w.get('variant', '')}): {w.get('title', '')}: "
            f"{w.get('detail', '')}",
            highlight=False,
        )
    out.print(f"verdict: {view.verdict}; report: {report}")
    if not rows:
        raise AdvlabError(f"every demo task failed; see {report}")


_MOUNTED: list[bool] = []


def _mount_plugins() -> None:
    """Commands that live with their modules (scanner, server, assessments); mounted once."""
    if _MOUNTED:
        return
    _MOUNTED.append(True)
    try:
        from advlab.serialization.cli import Exit4Command, convert_cli, scan_cli

        app.command("scan", cls=Exit4Command)(scan_cli)
        app.command("convert", cls=Exit4Command)(convert_cli)
    except ImportError as exc:  # pragma: no cover - only while a module is missing
        logging.getLogger(__name__).debug("scanner CLI unavailable: %s", exc)
    try:
        from advlab.serve import serve_cli

        app.command("serve", help="Serve a saved model as a JSON prediction API on 127.0.0.1")(
            serve_cli
        )
    except ImportError as exc:  # pragma: no cover
        logging.getLogger(__name__).debug("serve CLI unavailable: %s", exc)
    try:
        from advlab.assess.cli import register

        register(app)
    except ImportError as exc:  # pragma: no cover
        logging.getLogger(__name__).debug("assess CLI unavailable: %s", exc)


def _usage_errors() -> tuple[type[BaseException], ...]:
    """click's UsageError, wherever this typer version keeps its click."""
    found: list[type[BaseException]] = []
    for mod in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(__import__(mod, fromlist=["UsageError"]).UsageError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def main(argv: list[str] | None = None) -> None:
    """Entry point. Exit codes: 0 ok, 1 findings / failed gates, 2 error, 3 nothing done,
    4 usage error."""
    _mount_plugins()
    usage = _usage_errors()
    try:
        rc = app(args=argv, prog_name="advlab", standalone_mode=False)
    except usage as exc:
        ctx = getattr(exc, "ctx", None)
        where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        msg = exc.format_message()  # type: ignore[attr-defined]
        err.print(f"error: {one_line(msg)}{where}", highlight=False, markup=False)
        raise SystemExit(4) from None
    except AdvlabError as exc:
        err.print(f"error: {one_line(str(exc))}", highlight=False, markup=False)
        raise SystemExit(2) from None
    except OSError as exc:  # the file system said no (permissions, disk full, ...)
        err.print(f"error: {one_line(str(exc))}", highlight=False, markup=False)
        raise SystemExit(2) from None
    except (KeyboardInterrupt, typer.Abort):
        err.print("interrupted")
        raise SystemExit(130) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    raise SystemExit(rc if isinstance(rc, int) else 0)


from advlab.llm.cli import register as _register_llm  # noqa: E402  (LLM commands)

_register_llm(app)

if __name__ == "__main__":
    main()
from advlab.lab.cli import register as _register_lab  # noqa: E402  (the lab)

_register_lab(app)

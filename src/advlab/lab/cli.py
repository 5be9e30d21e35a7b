"""``advlab lab list | start | submit | grade | serve``: the lab from the command line.

Registered on the main CLI by :func:`register`. ``grade`` grades a file locally (with the
local secret, so it prints your flag for a local scoreboard); ``submit`` sends a file or a
flag to a running server with the key in ``$ADVLAB_LAB_KEY``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from advlab.errors import AdvlabError
from advlab.validation import integer

log = logging.getLogger(__name__)

STATE_ENV = "ADVLAB_LAB_STATE"

lab_app = typer.Typer(
    name="lab",
    help="The lab: graded challenges with per-user flags and a local challenge server.",
    no_args_is_help=True,
    add_completion=False,
)


def default_state() -> Path:
    """``$ADVLAB_LAB_STATE`` or ``~/.advlab-lab``: the database and the secret live there."""
    return Path(os.environ.get(STATE_ENV, Path.home() / ".advlab-lab"))


def _challenge(name: str) -> Any:
    from advlab.lab.base import get_challenge

    return get_challenge(name)


@lab_app.command("list")
def list_cli(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List the challenges: module, tier, budget, summary."""
    from rich.console import Console
    from rich.table import Table

    from advlab.lab.base import all_challenges

    cards = [cls.describe() for cls in all_challenges().values()]
    if as_json:
        typer.echo(json.dumps(cards, indent=2))
        return
    table = Table(title="advlab lab challenges")
    for col in ("module", "name", "tier", "budget", "summary"):
        table.add_column(col)
    for c in cards:
        budget = "-" if c["budget"] is None else f"{c['budget']} ({c['access']})"
        table.add_row(str(c["module"]), c["name"], c["tier"], budget, c["summary"])
    Console().print(table)


@lab_app.command("start")
def start_cli(
    name: Annotated[str, typer.Argument(help="challenge name (see advlab lab list)")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="folder to write (default ./lab-NAME)")
    ] = None,
) -> None:
    """Write a challenge's README (threat model, task), handout.json and files to a folder."""
    cls = _challenge(name)
    ch = cls()
    folder = out or Path(f"lab-{name}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(cls.readme())
    (folder / "handout.json").write_text(json.dumps(ch.handout()))
    for fname, data in ch.files().items():
        (folder / fname).write_bytes(data)
    typer.echo(f"{name}: wrote {folder}/README.md, handout.json and {len(ch.files())} file(s)")
    typer.echo(cls.threat_model)


@lab_app.command("grade")
def grade_cli(
    name: Annotated[str, typer.Argument(help="challenge name")],
    file: Annotated[Path, typer.Argument(help="your submission")],
    user: Annotated[str, typer.Option(help="whose flag to print")] = os.environ.get(
        "USER", "student"
    ),
    state: Annotated[Path | None, typer.Option(help="lab state folder (secret)")] = None,
) -> None:
    """Grade a submission locally; prints the verdict and, when solved, your local flag.

    Exit 0 solved, 1 not solved.
    """
    from advlab.lab.flags import challenge_key, load_secret, make_flag

    if not file.is_file():
        raise AdvlabError(f"{file}: no such file")
    secret = load_secret(state or default_state())
    ch = _challenge(name)()
    ch.bind(challenge_key(secret, name))  # the hidden values of the local server
    verdict = ch.grade(file.read_bytes(), filename=file.name)
    typer.echo(("solved: " if verdict.solved else "not solved: ") + verdict.reason)
    if verdict.metrics:
        typer.echo(json.dumps(verdict.metrics))
    if not verdict.solved:
        raise typer.Exit(1)
    typer.echo(f"flag for {user}: {make_flag(secret, user, name)}")


@lab_app.command("submit")
def submit_cli(
    name: Annotated[str, typer.Argument(help="challenge name")],
    file: Annotated[Path | None, typer.Argument(help="your submission")] = None,
    flag: Annotated[str | None, typer.Option(help="submit a flag instead of a file")] = None,
    url: Annotated[str, typer.Option(help="the lab server")] = "http://127.0.0.1:8100",
) -> None:
    """Send a submission (or a flag) to a lab server; the API key is read from
    $ADVLAB_LAB_KEY. Exit 0 solved / accepted, 1 not."""
    from advlab.lab.client import KEY_ENV, LabClient

    if (file is None) == (flag is None):
        raise AdvlabError("give a FILE to grade or --flag, exactly one of them")
    if not os.environ.get(KEY_ENV):
        raise AdvlabError(f"set ${KEY_ENV} to your API key (register on the lab's page)")
    client = LabClient(url)
    try:
        if flag is not None:
            answer = client.flag(name, flag)
            typer.echo(answer["reason"])
            ok = bool(answer["accepted"])
        else:
            assert file is not None
            if not file.is_file():
                raise AdvlabError(f"{file}: no such file")
            verdict = client.submit(name, file.read_bytes(), file.name)
            typer.echo(("solved: " if verdict["solved"] else "not solved: ") + verdict["reason"])
            if verdict.get("flag"):
                typer.echo(f"flag: {verdict['flag']}")
            ok = bool(verdict["solved"])
    finally:
        client.close()
    if not ok:
        raise typer.Exit(1)


@lab_app.command("serve")
def serve_cli(
    port: Annotated[
        int, typer.Option(help="TCP port on 127.0.0.1", callback=integer(ge=0, le=65535))
    ] = 8100,
    state: Annotated[
        Path | None, typer.Option(help="state folder (SQLite database, secret)")
    ] = None,
    challenge: Annotated[
        list[str] | None, typer.Option(help="serve only these challenges (repeatable)")
    ] = None,
) -> None:
    """Serve the challenges, the page and the scoreboard on 127.0.0.1 until interrupted."""
    from advlab.lab.server import serve_lab

    folder = state or default_state()
    typer.echo(f"advlab lab on http://127.0.0.1:{port}/ (state in {folder}); building targets")
    serve_lab(folder, port=port, challenges=challenge or None)


def register(app: typer.Typer) -> None:
    """Add ``advlab lab ...`` to the main CLI."""
    app.add_typer(lab_app, name="lab")

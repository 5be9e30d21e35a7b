"""``advlab llm scan``: probe an OpenAI-compatible endpoint and write a run directory.

The run directory is the one ``advlab assess`` writes (:mod:`advlab.llm.scan`).
Exit codes: 0 nothing found, 1 findings, 2 error (one line on stderr; partial results
kept), 4 usage error (an unknown probe, an existing run directory without ``--resume``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from advlab.validation import integer


def scan_cli(
    base_url: Annotated[
        str, typer.Option("--base-url", help="the API's base URL, e.g. http://127.0.0.1:8000/v1")
    ],
    model: Annotated[str, typer.Option("--model", help="the model name to ask for")],
    out: Annotated[str, typer.Option("--out", help="the run directory to write")],
    api_key_env: Annotated[
        str | None, typer.Option("--api-key-env", help="environment variable holding the API key")
    ] = None,
    secret: Annotated[
        list[str] | None,
        typer.Option("--secret", help="a value the app must not reveal (repeatable)"),
    ] = None,
    objective: Annotated[
        list[str] | None,
        typer.Option("--objective", help="a request the app must refuse (repeatable)"),
    ] = None,
    probes: Annotated[
        str | None, typer.Option("--probes", help="comma-separated probe names (default: all)")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue a scan in --out")] = False,
    concurrency: Annotated[
        int,
        typer.Option("--concurrency", help="requests in flight", callback=integer(ge=1, le=256)),
    ] = 4,
    max_prompts: Annotated[
        int | None,
        typer.Option(
            "--max-prompts",
            help="requests each probe sends at most, adaptive rounds included",
            callback=integer(ge=1),
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="seeds sampling and the probes")] = 0,
) -> int:
    """Probe an LLM application for prompt injection, leakage, jailbreaks and exfiltration."""
    from advlab.assess.rundir import RunDirError
    from advlab.errors import UnknownNameError
    from advlab.llm.scan import known_probes, scan

    names = tuple(p.strip() for p in (probes or "").split(",") if p.strip())
    unknown = [n for n in names if n not in known_probes()]
    if unknown:
        typer.echo(f"error: unknown probes {unknown}; known: {', '.join(known_probes())}", err=True)
        return 4
    target = {"base_url": base_url, "model": model, "api_key_env": api_key_env}
    try:
        result = scan(
            target,
            out=out,
            probes=names,
            secrets=tuple(secret or ()),
            objectives=tuple(objective or ()),
            resume=resume,
            concurrency=concurrency,
            max_prompts=max_prompts,
            seed=seed,
        )
    except (UnknownNameError, RunDirError) as exc:
        typer.echo(f"error: {exc}", err=True)
        return 4
    for p in result.probes:
        if p["status"] != "ok":
            verdict = f"ERROR {p['reason']}"
        elif p["hits"]:
            verdict = f"FOUND {', '.join(p['categories'])}"
        else:
            verdict = "nothing found"
        typer.echo(f"{p['probe']:20s} {p['hits']:4d}/{p['attempts']:<4d} {verdict}")
    if result.exit_code == 2:
        why = result.error or "a probe failed"
        typer.echo(f"error: {why} (partial results in {out})", err=True)
    else:
        typer.echo(f"{len(result.findings)} probe(s) with findings; report in {out}/report.html")
    return result.exit_code

"""The ``advlab serve-llm`` command: the vulnerable apps behind an OpenAI-compatible API.

Registered on the main CLI by :func:`register`. The server binds 127.0.0.1 only; see
:mod:`advlab.llm.server` for the models, the endpoints and the fault options.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from advlab.validation import integer, non_negative, number

share = number(ge=0, le=1)
"""A finite fraction in [0, 1]."""

log = logging.getLogger(__name__)


def serve_llm(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    secret: str = "COCOLOCO",
    seed: int = 0,
    faults: Any = None,
    api_key_env: str | None = None,
    log_level: str = "warning",
    guards: Sequence[str] = (),
    lm_models: dict[str, Any] | None = None,
) -> None:
    """Serve the apps with uvicorn until interrupted (prints the endpoints first)."""
    from advlab.llm.apps import TOP_LEVEL
    from advlab.llm.server import check_host, create_llm_app

    check_host(host, port)
    chain = guards_by_name(guards)
    app = create_llm_app(
        secret=secret,
        seed=seed,
        faults=faults,
        api_key_env=api_key_env,
        guards=chain,
        lm_models=lm_models,
    )
    try:
        import uvicorn
    except ImportError as exc:
        raise ImportError("serve-llm needs uvicorn: pip install 'advlab[serve]'") from exc
    base = f"http://{host}:{port}/v1"
    typer.echo(f"advlab serve-llm on {base}")
    typer.echo(f"  POST {base}/chat/completions   POST {base}/completions   GET {base}/models")
    typer.echo(f"  models: level-0 .. level-{TOP_LEVEL} (chat apps), agent-0 .. agent-{TOP_LEVEL}")
    if lm_models:
        typer.echo(f"  model-backed: {', '.join(lm_models)} (real logprobs, logit_bias)")
    typer.echo(f"  auth: {'Bearer key from $' + api_key_env if api_key_env else 'none'}")
    typer.echo(f"  guards: {', '.join(g.name for g in chain) or 'none'}")
    uvicorn.run(app, host=host, port=port, log_level=log_level)


def guards_by_name(names: Sequence[str]) -> list[Any]:
    """Guards (default parameters) from their registered names (UnknownNameError otherwise)."""
    from advlab.errors import UnknownNameError
    from advlab.registry import all_plugins

    table = {n: c for n, c in all_plugins("defense")["defense"].items() if c.threat == "llm"}
    out = []
    for name in names:
        cls = table.get(name.strip().lower())
        if cls is None:
            raise UnknownNameError(
                f"unknown guard {name!r}; valid guards: {', '.join(sorted(table))}"
            )
        out.append(cls())
    return out


def serve_llm_cli(
    port: Annotated[
        int, typer.Option(help="TCP port on 127.0.0.1", callback=integer(ge=0, le=65535))
    ] = 8000,
    secret: Annotated[str, typer.Option(help="the apps' password")] = "COCOLOCO",
    seed: Annotated[int, typer.Option(help="seeds phrasing and fault draws")] = 0,
    latency: Annotated[
        float, typer.Option(help="seconds added to every answer", callback=non_negative)
    ] = 0.0,
    error_rate: Annotated[float, typer.Option(help="share of 503 answers", callback=share)] = 0.0,
    rate_limit_rate: Annotated[
        float, typer.Option(help="share of 429 answers (with Retry-After)", callback=share)
    ] = 0.0,
    retry_after: Annotated[
        float, typer.Option(help="Retry-After seconds on 429", callback=non_negative)
    ] = 1.0,
    timeout_rate: Annotated[
        float, typer.Option(help="share of answers held --hang seconds", callback=share)
    ] = 0.0,
    hang: Annotated[
        float, typer.Option(help="seconds a timed-out answer is held", callback=non_negative)
    ] = 30.0,
    malformed_rate: Annotated[
        float, typer.Option(help="share of truncated JSON answers", callback=share)
    ] = 0.0,
    api_key_env: Annotated[
        str | None, typer.Option(help="environment variable holding the required API key")
    ] = None,
    host: Annotated[str, typer.Option(help="loopback address to bind")] = "127.0.0.1",
    guard: Annotated[
        list[str] | None,
        typer.Option(help="a guard every app answers through (repeatable, in order)"),
    ] = None,
    tiny_gpt: Annotated[
        bool,
        typer.Option(
            help="also serve the instruction-tuned tiny GPT as tiny-gpt-chat (trained "
            "on first use, then cached)"
        ),
    ] = False,
) -> None:
    """Serve the vulnerable chat apps behind an OpenAI-compatible API on 127.0.0.1."""
    from advlab.llm.server import Faults

    faults = Faults(
        latency_s=latency,
        rate_limit_rate=rate_limit_rate,
        retry_after=retry_after,
        error_rate=error_rate,
        timeout_rate=timeout_rate,
        hang_s=hang,
        malformed_rate=malformed_rate,
    )
    lm_models = None
    if tiny_gpt:
        from advlab.lm.chat import ChatLM, tiny_chat_gpt

        chat = tiny_chat_gpt()
        lm_models = {"tiny-gpt-chat": ChatLM(chat.model, chat.tokenizer)}
    serve_llm(
        host=host,
        port=port,
        secret=secret,
        seed=seed,
        faults=faults,
        api_key_env=api_key_env,
        guards=guard or (),
        lm_models=lm_models,
    )


def register(app: typer.Typer) -> None:
    """Add ``serve-llm`` and ``llm scan`` to the main CLI."""
    from advlab.llm.scan_cli import scan_cli

    llm = typer.Typer(help="Attack LLM applications (probes, detectors)", no_args_is_help=True)
    llm.command("scan", help="Probe an OpenAI-compatible endpoint; write a run directory")(scan_cli)
    app.add_typer(llm, name="llm")
    app.command(
        "serve-llm",
        help="Serve the vulnerable LLM apps behind an OpenAI-compatible API on 127.0.0.1",
    )(serve_llm_cli)

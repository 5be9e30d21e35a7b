"""Serve a saved advlab model as a JSON prediction API (``advlab serve``).

Endpoints (JSON in, JSON out):

* ``POST /predict`` — ``{"inputs": [[...], ...]}`` (a batch of points, nested lists of the
  model's input shape, or one point) -> ``{"outputs": [[...]], "labels": [...]}``; in
  labels-only mode ``{"labels": [...]}`` only.
* ``GET /info`` — input shape, number and names of classes, bounds, access, output kind,
  per-client query limit and maximum batch.
* ``GET /health`` — ``{"status": "ok"}`` (no authentication).
* ``GET /`` — an HTML page: what the server is, its endpoints, an example request and the
  model's information (the model only with the API key, when one is configured).

``advlab serve`` prints the address and the endpoints when it starts.

Status codes: 401 when an API key is configured and the request lacks it or has another
one; 413 for a batch larger than ``max_batch`` or a body over ``max_body_bytes``; 422 for
malformed JSON, a wrong shape, out-of-bounds or NaN/inf inputs; 429 with
``{"code": "query_limit"}`` once a client has used its ``query_budget`` points (a refused
request costs nothing). A client is its API key (when keys are configured) or else its host
address: the peer address of the connection; ``X-Forwarded-For`` / ``Forwarded`` headers are
trusted only from the proxies named in ``forwarded_allow_ips`` (none by default), so a client
cannot reset its quota by rotating them.

The server binds 127.0.0.1 unless ``allow_remote`` is given; models are loaded with
:func:`advlab.models.load_bundle` (safetensors + JSON, never pickle). FastAPI and uvicorn are
an optional extra: ``pip install 'advlab[serve]'``.
"""

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import typer

from advlab import secrets
from advlab.access import Access
from advlab.errors import ConfigError, InputError
from advlab.serve_page import endpoint_lines, index_html
from advlab.targets.base import LabelsOnly, Target

log = logging.getLogger(__name__)

_INSTALL_HINT = (
    "the server needs fastapi and uvicorn; install them with: pip install 'advlab[serve]'"
)


def _import_fastapi() -> Any:
    try:
        import fastapi
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return fastapi


def _import_uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return uvicorn


class QueryLimiter:
    """Per-client counts of points answered, with an optional total per client (thread-safe)."""

    def __init__(self, query_budget: int | None) -> None:
        self.query_budget = query_budget
        self.used: dict[str, int] = {}
        self._lock = threading.Lock()

    def charge(self, client: str, n: int) -> tuple[bool, int]:
        """Charge ``n`` points to ``client``; returns (allowed, used so far)."""
        with self._lock:
            used = self.used.get(client, 0)
            if self.query_budget is not None and used + n > self.query_budget:
                return False, used
            self.used[client] = used + n
            return True, used + n


def _load_keys(api_key_env: str | None) -> list[bytes]:
    if not api_key_env:
        return []
    raw = os.environ.get(api_key_env, "")
    keys = [k.strip().encode() for k in raw.split(",") if k.strip()]
    for k in keys:
        secrets.register(k.decode())
    if not keys:
        raise ConfigError(
            f"api_key_env={api_key_env!r} but the environment variable is empty or unset; "
            "set it to one key (or several, comma-separated)"
        )
    return keys


def _client_id(key: bytes | None, host: str | None) -> str:
    if key is not None:  # never keep the key itself: a short digest names the client
        return "key:" + hashlib.sha256(key).hexdigest()[:12]
    return "host:" + (host or "unknown")


def create_app(
    bundle_or_target: Any,
    *,
    labels_only: bool = False,
    query_budget: int | None = None,
    api_key_env: str | None = None,
    output: str = "probs",
    max_batch: int = 1024,
    max_body_bytes: int = 32 * 1024 * 1024,
    delay: float = 0.0,
    device: str = "auto",
    max_queries: int | None = None,
) -> Any:
    """A FastAPI app answering predictions of a model.

    Args:
        bundle_or_target: an advlab ``ModelBundle`` or any :class:`~advlab.targets.Target`.
        labels_only: answer labels only (a decision-based black box).
        query_budget: points each client may query in total (``None``: unlimited).
        api_key_env: environment variable holding the accepted API key(s), comma-separated;
            ``None``: no authentication.
        output: ``"probs"`` (softmax) or ``"logits"`` in ``outputs``.
        max_batch / max_body_bytes: request size limits.
        delay: artificial latency per prediction in seconds (to exercise clients' timeouts).
        device: where a bundle's model runs.
        max_queries: deprecated name of ``query_budget``.

    ``app.state.limiter`` holds the per-client counts and ``app.state.requests`` the number
    of ``/predict`` requests received.
    """
    fastapi = _import_fastapi()
    from fastapi import Request
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.concurrency import run_in_threadpool

    if output not in ("probs", "logits"):
        raise ConfigError(f"output must be 'probs' or 'logits', got {output!r}")
    query_budget = _budget_alias(query_budget, max_queries)
    if query_budget is not None and query_budget < 1:
        raise ConfigError(f"query_budget must be >= 1 or None, got {query_budget}")
    if max_batch < 1 or max_body_bytes < 1 or delay < 0:
        raise ConfigError("max_batch and max_body_bytes must be >= 1 and delay >= 0")
    target, class_names = _as_target(bundle_or_target, device)
    if labels_only:
        target = LabelsOnly(target)
    keys = _load_keys(api_key_env)
    limiter = QueryLimiter(query_budget)
    model_lock = threading.Lock()

    app = fastapi.FastAPI(title="advlab prediction server", docs_url=None, redoc_url=None)
    app.state.limiter = limiter
    app.state.requests = 0
    app.state.target = target

    info = {
        "input_shape": list(target.input_shape),
        "num_classes": target.num_classes,
        "class_names": class_names,
        "bounds": list(target.bounds),
        "access": "labels" if target.access <= Access.LABELS else "scores",
        "output": "labels" if labels_only else output,
        "query_budget": query_budget,
        "max_queries": query_budget,  # deprecated name, kept for older clients
        "max_batch": max_batch,
        "auth": bool(keys),
    }

    def error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> Any:
        return JSONResponse({"error": message, "code": code}, status_code=status, headers=headers)

    def authenticate(request: Any) -> tuple[bytes | None, Any]:
        """(matched key, None) or (None, an error response)."""
        if not keys:
            return None, None
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        given = token.strip().encode() if scheme.lower() == "bearer" else b""
        for k in keys:
            if given and hmac.compare_digest(given, k):
                return k, None
        return None, error(
            401,
            "missing or invalid API key (send Authorization: Bearer <key>)",
            "unauthorized",
            {"WWW-Authenticate": "Bearer"},
        )

    def run_model(x: torch.Tensor) -> dict[str, Any]:
        with model_lock:  # one model call at a time; torch modules are not re-entrant safe
            if labels_only:
                return {"labels": target.labels(x).cpu().tolist()}
            scores = target.scores(x)
            if target.output == "probs":
                probs = scores
                logits = torch.log(scores.clamp_min(1e-12))
            else:
                logits = scores
                probs = torch.softmax(scores, dim=1)
            out = probs if output == "probs" else logits
            return {"outputs": out.cpu().tolist(), "labels": out.argmax(1).cpu().tolist()}

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> Any:
        _, denied = authenticate(request)
        return HTMLResponse(index_html(info, show_model=denied is None))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/info")
    def get_info(request: Request) -> Any:
        _, denied = authenticate(request)
        if denied is not None:
            return denied
        return info

    @app.post("/predict")
    async def predict(request: Request) -> Any:
        app.state.requests += 1
        key, denied = authenticate(request)
        if denied is not None:
            return denied
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            return error(413, f"request body over {max_body_bytes} bytes", "too_large")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                return error(413, f"request body over {max_body_bytes} bytes", "too_large")
            chunks.append(chunk)
        try:
            body = json.loads(b"".join(chunks))
        except ValueError:
            return error(422, "the body is not valid JSON", "invalid_json")
        if not isinstance(body, dict) or "inputs" not in body:
            return error(422, 'expected a JSON object {"inputs": [...]}', "invalid_request")
        try:
            arr = np.asarray(body["inputs"], dtype=np.float32)
        except (ValueError, TypeError):
            return error(
                422, "inputs must be a rectangular nested list of numbers", "invalid_inputs"
            )
        try:
            x = target.check_inputs(arr)
        except InputError as exc:
            return error(422, str(exc), "invalid_inputs")
        n = len(x)
        if n > max_batch:
            return error(413, f"{n} inputs in one request; at most {max_batch}", "too_large")
        host = request.client.host if request.client else None
        client = _client_id(key, host)
        allowed, used = limiter.charge(client, n)
        if not allowed:
            log.info("client %s over its query limit (%d used)", client, used)
            return error(
                429,
                f"query limit reached: {used} of {query_budget} points used, this request needs "
                f"{n}",
                "query_limit",
            )
        if delay:
            await asyncio.sleep(delay)
        result = await run_in_threadpool(run_model, x)
        headers = {"X-Queries-Used": str(used)}
        if query_budget is not None:
            headers["X-Queries-Remaining"] = str(query_budget - used)
        return JSONResponse(result, headers=headers)

    return app


def _budget_alias(query_budget: int | None, max_queries: int | None) -> int | None:
    """``query_budget``, or the deprecated ``max_queries`` (with a warning); not both."""
    if max_queries is None:
        return query_budget
    if query_budget is not None and query_budget != max_queries:
        raise ConfigError(
            f"give the total budget once: query_budget={query_budget} but the deprecated "
            f"max_queries={max_queries}"
        )
    log.warning(
        "max_queries (--max-queries) is deprecated for the server's total budget; "
        "use query_budget (--query-budget)"
    )
    return max_queries


def forwarded_options(forwarded_allow_ips: str | None) -> dict[str, Any]:
    """uvicorn options: trust ``X-Forwarded-For`` only from the listed proxies (none by default).

    ``forwarded_allow_ips`` is a comma-separated list of addresses or networks, or ``*``.
    Without it the client is the connection's peer address, whatever headers it sends.
    """
    if not forwarded_allow_ips:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    items = [i.strip() for i in forwarded_allow_ips.split(",") if i.strip()]
    for item in items:
        if item == "*":
            log.warning("trusting X-Forwarded-For from any address: clients can pick their name")
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(
                f"forwarded_allow_ips: {item!r} is not an IP address or network; expected a "
                "comma-separated list such as '127.0.0.1,10.0.0.0/8'"
            ) from None
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(items)}


def _as_target(obj: Any, device: str) -> tuple[Target, list[str] | None]:
    from advlab.models.io import ModelBundle

    if isinstance(obj, ModelBundle):
        names = obj.meta.get("class_names")
        return obj.target(device=device), list(names) if names else None
    if isinstance(obj, Target):
        return obj, None
    raise ConfigError(
        f"create_app needs a ModelBundle or a Target, got {type(obj).__name__}; "
        "load a model file with advlab.models.load_bundle"
    )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    model_path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    labels_only: bool = False,
    query_budget: int | None = None,
    api_key_env: str | None = None,
    output: str = "probs",
    max_batch: int = 1024,
    device: str = "auto",
    allow_remote: bool = False,
    log_level: str = "info",
    forwarded_allow_ips: str | None = None,
    max_queries: int | None = None,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Load a saved advlab model (never pickle) and serve it with uvicorn until interrupted.

    ``forwarded_allow_ips``: proxies whose ``X-Forwarded-For`` is trusted (none by default);
    ``max_queries`` is the deprecated name of ``query_budget``; ``announce`` receives the
    lines naming the server's address and endpoints before it starts (the CLI prints them).
    """
    if not is_loopback(host) and not allow_remote:
        raise ConfigError(
            f"refusing to listen on {host!r}: the server binds loopback (127.0.0.1) only; pass "
            "--allow-remote (and set an API key) to expose it on a network"
        )
    if not 0 <= port <= 65535:
        raise ConfigError(f"port must be in 0..65535, got {port}")
    query_budget = _budget_alias(query_budget, max_queries)
    proxy = forwarded_options(forwarded_allow_ips)
    from advlab.models.io import load_bundle
    from advlab.utils import resolve_device

    dev = str(resolve_device(device))
    bundle = load_bundle(model_path, device=dev)
    app = create_app(
        bundle,
        labels_only=labels_only,
        query_budget=query_budget,
        api_key_env=api_key_env,
        output=output,
        max_batch=max_batch,
        device=dev,
    )
    if allow_remote and not is_loopback(host) and not api_key_env:
        log.warning("serving on %s without an API key: anyone on the network can query it", host)
    uvicorn = _import_uvicorn()
    log.info(
        "serving %s on http://%s:%d (labels_only=%s, query_budget=%s, auth=%s)",
        model_path,
        host,
        port,
        labels_only,
        query_budget,
        bool(api_key_env),
    )
    if announce is not None:
        base = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        announce(f"advlab serve: {model_path} on {base}/ (Ctrl+C stops)")
        for line in endpoint_lines(base):
            announce(line)
    uvicorn.run(app, host=host, port=port, log_level=log_level, **proxy)


def serve_cli(
    model: Annotated[Path, typer.Argument(help="advlab model file (.safetensors + .json)")],
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    labels_only: Annotated[bool, typer.Option(help="answer labels only")] = False,
    query_budget: Annotated[
        int | None, typer.Option(help="points each client may query in total", min=1)
    ] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    host: Annotated[str, typer.Option(help="address to bind (loopback only by default)")] = (
        "127.0.0.1"
    ),
    allow_remote: Annotated[
        bool, typer.Option(help="allow binding a non-loopback address")
    ] = False,
    api_key_env: Annotated[
        str | None, typer.Option(help="environment variable holding the accepted API key(s)")
    ] = None,
    output: Annotated[str, typer.Option(help="probs | logits")] = "probs",
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="proxies (comma-separated addresses or networks) whose X-Forwarded-For is "
            "trusted; none by default"
        ),
    ] = None,
    max_queries: Annotated[
        int | None, typer.Option(hidden=True, help="deprecated: use --query-budget", min=1)
    ] = None,
) -> None:
    """Serve a saved model as a JSON prediction API on 127.0.0.1."""
    serve(
        model,
        host=host,
        port=port,
        labels_only=labels_only,
        query_budget=query_budget,
        max_queries=max_queries,
        forwarded_allow_ips=forwarded_allow_ips,
        api_key_env=api_key_env,
        output=output,
        device=device,
        allow_remote=allow_remote,
        announce=lambda line: typer.echo(line, err=True),
    )


@contextmanager
def background_server(
    app: Any, *, port: int = 0, timeout: float = 10.0, forwarded_allow_ips: str | None = None
) -> Iterator[str]:
    """Run ``app`` with uvicorn in a daemon thread on 127.0.0.1; yields its base URL.

    ``port=0`` picks a free port. The server is stopped (and the thread joined) on exit.
    Forwarded headers are trusted as in :func:`serve`. For tests and notebooks.
    """
    uvicorn = _import_uvicorn()
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that name it; without it Nagle and
    # delayed ACKs add ~40 ms to every answer
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        timeout_graceful_shutdown=2,
        **forwarded_options(forwarded_allow_ips),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="advlab-serve", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=timeout)
            sock.close()
            raise RuntimeError(f"the test server did not start within {timeout:g}s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)
        sock.close()

"""The challenge server (``advlab lab serve``): a page, metered targets, grading, flags.

Endpoints (JSON; ``Authorization: Bearer <key>`` where marked *):

* ``GET /`` the page; ``GET /lab.js``, ``GET /lab.css`` its script and style.
* ``POST /api/register`` ``{"user": name}`` -> ``{"user", "api_key"}`` (the key is shown once).
* ``GET /api/challenges`` the list (with ``solved`` when a key is sent).
* ``GET /api/challenges/{name}`` the card, the handout and the file names; with a key, the
  queries used and left.
* ``GET /api/challenges/{name}/files/{file}`` a download (a white-box model, a model file).
* ``POST /api/challenges/{name}/predict`` * ``{"inputs": [...]}`` -> ``{"outputs", "labels"}``
  like ``advlab serve`` (a chat challenge, access ``text``: prompts in, ``{"outputs": replies}``) (so :class:`~advlab.targets.HttpClassifier` works against it). Each
  point costs one query of the user's budget, charged through a query meter before the model
  runs; once spent: 429 ``{"code": "query_limit"}``.
* ``POST /api/challenges/{name}/submit`` * ``{"data": base64, "filename"}`` -> the verdict,
  with the user's flag when solved.
* ``POST /api/flag`` * ``{"challenge", "flag"}`` -> accepted or not (another user's flag is
  refused as such); an accepted flag scores once.
* ``GET /api/scoreboard``; ``GET /api/me`` *.

Rate limits (token buckets per user, or per client address for registration) answer 429
``{"code": "rate_limited"}`` with ``Retry-After``. State lives in SQLite
(:class:`~advlab.lab.store.Store`): a restart loses nothing. Nothing is ever unpickled; the
server binds loopback only.
"""

import asyncio
import base64  # no "from __future__ import annotations": FastAPI reads the hints
import binascii
import json
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advlab.errors import BudgetExhausted, ConfigError, InputError
from advlab.lab.base import MAX_SUBMISSION_BYTES, Challenge, all_challenges
from advlab.lab.flags import FLAG, challenge_key, check_flag, load_secret, make_flag
from advlab.lab.store import Store

log = logging.getLogger(__name__)

POINTS = {"easy": 100, "medium": 200, "hard": 300}
MAX_BODY = MAX_SUBMISSION_BYTES * 4 // 3 + 4096
"""Largest request body: a base64-encoded maximal submission plus its JSON wrapper."""


@dataclass
class Limits:
    """Token-bucket rates (per second) and bursts for each kind of request."""

    predict_rate: float = 50.0
    predict_burst: int = 100
    submit_rate: float = 1.0
    submit_burst: int = 20
    register_rate: float = 0.2
    register_burst: int = 10
    max_batch: int = 1024


class RateLimiter:
    """Token buckets keyed by (kind, client); thread-safe."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, kind: str, client: str, rate: float, burst: int) -> float:
        """0.0 when allowed, else the seconds to wait for the next token."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get((kind, client), (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[(kind, client)] = (tokens - 1.0, now)
                return 0.0
            self._buckets[(kind, client)] = (tokens, now)
            return (1.0 - tokens) / rate


class Lab:
    """The server's logic without HTTP: challenges, store, secret (used by the app and tests)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        challenges: list[str] | None = None,
        seed: int = 0,
        limits: Limits | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.store = Store(self.state_dir / "lab.sqlite")
        self.secret = load_secret(self.state_dir)
        table = all_challenges()
        names = list(table) if challenges is None else challenges
        unknown = [n for n in names if n not in table]
        if unknown:
            raise ConfigError(f"unknown challenge(s) {unknown}; valid: {', '.join(table)}")
        self.challenges: dict[str, Challenge] = {n: table[n](seed=seed) for n in names}
        for n, ch in self.challenges.items():
            ch.bind(challenge_key(self.secret, n))
        self.limits = limits or Limits()
        self.rate = RateLimiter()
        # one worker runs every model call (torch modules are not re-entrant) and is joined
        # by close(), so no thread that ran a model outlives the server
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="advlab-lab")

    def close(self) -> None:
        """Join the model worker and close the database."""
        self.pool.shutdown(wait=True)
        self.store.close()

    async def run(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` on the model worker, awaited."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def challenge(self, name: str) -> Challenge | None:
        return self.challenges.get(name)

    def card(self, ch: Challenge, user: str | None) -> dict[str, Any]:
        d = ch.describe()
        d["points"] = POINTS[ch.tier]
        d["files"] = sorted(ch.files())
        if user is not None:
            d["solved"] = ch.name in self.store.solved(user)
            if ch.budget is not None:
                used = self.store.used(user, ch.name)
                d["queries_used"], d["queries_left"] = used, max(ch.budget - used, 0)
        return d

    def submit(self, user: str, ch: Challenge, data: bytes, filename: str) -> dict[str, Any]:
        verdict = ch.grade(data, filename=filename)
        self.store.record_grading(user, ch.name, verdict.solved, verdict.reason)
        log.info("grading %s for %s: %s", ch.name, user, "solved" if verdict.solved else "no")
        out = verdict.to_dict()
        if verdict.solved:
            out["flag"] = make_flag(self.secret, user, ch.name)
        return out

    def submit_flag(self, user: str, challenge: str, flag: str) -> dict[str, Any]:
        ch = self.challenge(challenge)
        if ch is None:
            return {"accepted": False, "reason": f"unknown challenge {challenge!r}"}
        if not FLAG.match(flag.strip()):
            return {"accepted": False, "reason": "not a flag: expected advlab{32 hex digits}"}
        if not check_flag(self.secret, user, challenge, flag):
            others = [u for u in self.store.users() if u != user]
            if any(check_flag(self.secret, u, challenge, flag) for u in others):
                log.warning("user %s submitted another user's flag for %s", user, challenge)
                return {"accepted": False, "reason": "this flag belongs to another user"}
            return {"accepted": False, "reason": "wrong flag for this challenge"}
        points = POINTS[ch.tier]
        new = self.store.record_solve(user, challenge, points)
        reason = "flag accepted" if new else "flag accepted (already solved: no new points)"
        return {"accepted": True, "reason": reason, "points": points if new else 0}


def create_lab_app(lab: Lab) -> Any:
    """The FastAPI app serving ``lab`` (see the module docstring for the endpoints)."""
    from advlab.serve import _import_fastapi

    fastapi = _import_fastapi()
    from fastapi import Request
    from fastapi.responses import HTMLResponse, JSONResponse, Response

    from advlab.lab.page import CSS, JS, PAGE

    app = fastapi.FastAPI(title="advlab lab", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.lab = lab
    lim = lab.limits
    headers = {
        "Content-Security-Policy": "default-src 'self'; object-src 'none'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
    }

    def error(status: int, message: str, code: str, extra: dict[str, str] | None = None) -> Any:
        return JSONResponse(
            {"error": message, "code": code},
            status_code=status,
            headers={**headers, **(extra or {})},
        )

    def limited(kind: str, client: str, rate: float, burst: int) -> Any:
        wait = lab.rate.take(kind, client, rate, burst)
        if wait <= 0:
            return None
        return error(
            429,
            f"too many requests; retry in {wait:.1f}s",
            "rate_limited",
            {"Retry-After": str(max(1, round(wait)))},
        )

    def user_of(request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return lab.store.user_for_key(token.strip())

    def need_user(request: Request) -> tuple[str | None, Any]:
        user = user_of(request)
        if user is None:
            return None, error(
                401,
                "missing or invalid API key (register, then send Authorization: Bearer <key>)",
                "unauthorized",
                {"WWW-Authenticate": "Bearer"},
            )
        return user, None

    async def read_json(request: Request) -> tuple[Any, Any]:
        size, chunks = 0, []
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                return None, error(413, f"request body over {MAX_BODY} bytes", "too_large")
            chunks.append(chunk)
        try:
            return json.loads(b"".join(chunks)), None
        except ValueError:
            return None, error(422, "the body is not valid JSON", "invalid_json")

    def find(name: str) -> tuple[Challenge | None, Any]:
        ch = lab.challenge(name)
        if ch is None:
            return None, error(404, f"unknown challenge {name!r}", "not_found")
        return ch, None

    async def begin(request: Request, name: str | None, kind: str) -> Any:
        """((user, challenge, JSON body), None) of an authenticated POST within the ``kind``
        rate limit (``predict`` | ``submit``), or (None, an error response). ``name=None``: no
        challenge in the path."""
        user, denied = need_user(request)
        if denied is not None:
            return None, denied
        ch = None
        if name is not None:
            ch, missing = find(name)
            if missing is not None:
                return None, missing
        rate, burst = getattr(lim, f"{kind}_rate"), getattr(lim, f"{kind}_burst")
        slow = limited(kind, str(user), rate, burst)
        if slow is not None:
            return None, slow
        body, bad = await read_json(request)
        if bad is not None:
            return None, bad
        return (user, ch, body), None

    @app.get("/", response_class=HTMLResponse)
    def page() -> Any:
        return HTMLResponse(PAGE, headers=headers)

    @app.get("/lab.js")
    def script() -> Any:
        return Response(JS, media_type="text/javascript", headers=headers)

    @app.get("/lab.css")
    def style() -> Any:
        return Response(CSS, media_type="text/css", headers=headers)

    @app.get("/favicon.ico")
    def favicon() -> Any:
        return Response(status_code=204, headers=headers)

    @app.post("/api/register")
    async def register(request: Request) -> Any:
        host = request.client.host if request.client else "unknown"
        denied = limited("register", host, lim.register_rate, lim.register_burst)
        if denied is not None:
            return denied
        body, bad = await read_json(request)
        if bad is not None:
            return bad
        if not isinstance(body, dict) or not isinstance(body.get("user"), str):
            return error(422, 'expected {"user": "<name>"}', "invalid_request")
        try:
            key = lab.store.register(body["user"])
        except ConfigError as exc:
            return error(409 if "exists" in str(exc) else 422, str(exc), "invalid_user")
        log.info("registered lab user %s", body["user"])
        return JSONResponse({"user": body["user"], "api_key": key}, headers=headers)

    @app.get("/api/me")
    def me(request: Request) -> Any:
        user, denied = need_user(request)
        if denied is not None:
            return denied
        return {"user": user, "solved": lab.store.solved(str(user))}

    @app.get("/api/challenges")
    async def challenges(request: Request) -> Any:
        user = user_of(request)
        return await lab.run(lambda: [lab.card(ch, user) for ch in lab.challenges.values()])

    @app.get("/api/challenges/{name}")
    async def one(name: str, request: Request) -> Any:
        ch, missing = find(name)
        if missing is not None:
            return missing
        assert ch is not None
        card = await lab.run(lab.card, ch, user_of(request))
        card["handout"] = await lab.run(ch.handout)
        return card

    @app.get("/api/challenges/{name}/files/{file}")
    async def download(name: str, file: str) -> Any:
        ch, missing = find(name)
        if missing is not None:
            return missing
        assert ch is not None
        files = await lab.run(ch.files)
        if file not in files:
            return error(404, f"no file {file!r}; files: {sorted(files)}", "not_found")
        return Response(
            files[file],
            media_type="application/octet-stream",
            headers={**headers, "Content-Disposition": f'attachment; filename="{file}"'},
        )

    @app.post("/api/challenges/{name}/predict")
    async def predict(name: str, request: Request) -> Any:
        ctx, denied = await begin(request, name, "predict")
        if denied is not None:
            return denied
        user, ch, body = ctx
        if ch.budget is None:
            return error(404, f"{name} has no query endpoint", "not_found")
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            return error(422, 'expected a JSON object {"inputs": [...]}', "invalid_request")
        n = len(body["inputs"])
        if n > lim.max_batch:
            return error(413, f"{n} inputs in one request; at most {lim.max_batch}", "too_large")
        try:
            used = lab.store.charge(user, name, n, ch.budget)
        except BudgetExhausted as exc:
            return error(429, f"{exc} (budget of {name})", "query_limit")
        try:
            answer = await lab.run(ch.query, body["inputs"])
        except (InputError, ValueError, TypeError) as exc:
            lab.store.refund(user, name, n)  # unanswered: it costs nothing
            return error(422, str(exc), "invalid_inputs")
        extra = {"X-Queries-Used": str(used), "X-Queries-Remaining": str(ch.budget - used)}
        return JSONResponse(answer, headers={**headers, **extra})

    @app.post("/api/challenges/{name}/submit")
    async def submit(name: str, request: Request) -> Any:
        ctx, denied = await begin(request, name, "submit")
        if denied is not None:
            return denied
        user, ch, body = ctx
        if not isinstance(body, dict) or not isinstance(body.get("data"), str):
            return error(422, 'expected {"data": "<base64>", "filename": "..."}', "invalid_request")
        try:
            data = base64.b64decode(body["data"], validate=True)
        except (binascii.Error, ValueError):
            return error(422, "data is not valid base64", "invalid_request")
        filename = str(body.get("filename") or "submission")[:200]
        out = await lab.run(lab.submit, user, ch, data, filename)
        return JSONResponse(out, headers=headers)

    @app.post("/api/flag")
    async def flag(request: Request) -> Any:
        ctx, denied = await begin(request, None, "submit")
        if denied is not None:
            return denied
        user, _, body = ctx
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("challenge", "flag")
        ):
            return error(
                422, 'expected {"challenge": "...", "flag": "advlab{...}"}', "invalid_request"
            )
        return JSONResponse(lab.submit_flag(user, body["challenge"], body["flag"]), headers=headers)

    @app.get("/api/scoreboard")
    def scoreboard() -> Any:
        return lab.store.scoreboard()

    return app


def serve_lab(
    state_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8100,
    challenges: list[str] | None = None,
    warm: bool = True,
    log_level: str = "warning",
) -> None:
    """Run the lab server with uvicorn until interrupted (loopback only)."""
    from advlab.serve import _import_uvicorn, is_loopback

    if not is_loopback(host):
        raise ConfigError(f"refusing to listen on {host!r}: the lab server binds loopback only")
    if not 0 <= port <= 65535:
        raise ConfigError(f"port must be in 0..65535, got {port}")
    lab = Lab(state_dir, challenges=challenges)
    if warm:  # build every target before the first student waits for it
        for ch in lab.challenges.values():
            ch.state()
    app = create_lab_app(lab)
    uvicorn = _import_uvicorn()
    # a socket that names IPPROTO_TCP gets TCP_NODELAY from asyncio (no 40 ms Nagle stalls)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    log.info("advlab lab on http://%s:%d (state in %s)", host, port, state_dir)
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()

"""``advlab serve-llm``: the vulnerable apps behind an OpenAI-compatible API, with faults.

Endpoints: ``GET /v1/models``, ``POST /v1/chat/completions``, ``POST /v1/completions``,
``GET /health``, ``GET /stats`` (requests per endpoint and faults injected). Models: ``level-0`` ... ``level-6`` (the Gandalf-style apps of
:mod:`advlab.llm.apps`) and ``agent-0`` ... ``agent-6`` (the tool agent of
:mod:`advlab.llm.agent` on the demo workspace; its tool calls are reported in the extra
field ``advlab_tool_calls`` of the message). Answers carry ``usage`` (whitespace token
counts); ``max_tokens`` and ``stop`` cut the text; ``logprobs`` gives deterministic
per-token values (a stand-in: no model is behind them).

Fault injection, drawn per request from a seeded generator so a run is reproducible:
``latency_s`` (added to every answer), ``rate_limit_rate`` (429 with ``Retry-After``),
``error_rate`` (503), ``timeout_rate`` (the answer is held ``hang_s`` seconds),
``malformed_rate`` (a truncated JSON body with status 200). With ``api_key_env`` set, a
request must carry ``Authorization: Bearer <key>`` (401 otherwise). Unknown models are 404,
malformed requests 400, as OpenAI answers them. :class:`ServerStats` counts requests per
endpoint and keeps the prompts answered, so tests can prove what a client did (not) send.
With ``guards`` (:mod:`advlab.llm.guards`) every app answers through them (the agents'
final answers too; their tool calls are not guarded).

The server binds loopback only.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import random
import threading
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from advlab.errors import AdvlabError, ConfigError
from advlab.llm.agent import Agent, demo_workspace
from advlab.llm.apps import TOP_LEVEL, ChatApp
from advlab.llm.openai_parse import content_text
from advlab.llm.types import Message, SamplingParams

if TYPE_CHECKING:
    from advlab.llm.guards.base import Guard

_INSTALL_HINT = (
    "serve-llm needs fastapi and uvicorn; install them with: pip install 'advlab[serve]'"
)
LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Faults:
    """Fault injection rates (each in [0, 1]) and timings (seconds)."""

    latency_s: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after: float = 1.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    hang_s: float = 30.0
    malformed_rate: float = 0.0

    def __post_init__(self) -> None:
        rates = (self.rate_limit_rate, self.error_rate, self.timeout_rate, self.malformed_rate)
        if any(not 0.0 <= r <= 1.0 for r in rates) or sum(rates) > 1.0:
            raise ConfigError("fault rates must be in [0, 1] and sum to at most 1")
        if min(self.latency_s, self.retry_after, self.hang_s) < 0:
            raise ConfigError("latency, retry-after and hang seconds must be >= 0")


@dataclass
class ServerStats:
    """What the server saw: requests per endpoint, faults injected, prompts answered."""

    requests: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    answered: list[str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Completion requests received (chat and text)."""
        return self.requests["chat"] + self.requests["completions"]


class _Fault:
    def __init__(self, faults: Faults, seed: int) -> None:
        self.faults = faults
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def draw(self) -> str:
        with self.lock:
            u = self.rng.random()
        f = self.faults
        for name, rate in (
            ("rate_limit", f.rate_limit_rate),
            ("error", f.error_rate),
            ("timeout", f.timeout_rate),
            ("malformed", f.malformed_rate),
        ):
            if u < rate:
                return name
            u -= rate
        return "ok"


def _fake_logprobs(tokens: list[str], top: int) -> list[dict[str, Any]]:
    out = []
    for tok in tokens:
        lp = -((zlib.crc32(tok.encode()) % 1000) / 250.0)
        alts = [{"token": tok, "logprob": lp}] + [
            {"token": f"{tok}~{k}", "logprob": lp - k - 0.5} for k in range(1, top)
        ]
        out.append({"token": tok, "logprob": lp, "top_logprobs": alts[:top]})
    return out


def _cut(text: str, max_tokens: Any, stop: Any) -> tuple[str, str]:
    reason = "stop"
    stops = [stop] if isinstance(stop, str) else [s for s in (stop or []) if isinstance(s, str)]
    for s in stops:
        if s and s in text:
            text = text[: text.index(s)]
    words = text.split(" ")
    if isinstance(max_tokens, int) and 0 < max_tokens < len(words):
        text, reason = " ".join(words[:max_tokens]), "length"
    return text, reason


def _import_fastapi() -> Any:
    try:
        import fastapi
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return fastapi


def create_llm_app(
    *,
    secret: str = "COCOLOCO",
    seed: int = 0,
    faults: Faults | None = None,
    api_key_env: str | None = None,
    stats: ServerStats | None = None,
    guards: Sequence[Guard] = (),
    lm_models: dict[str, Any] | None = None,
) -> Any:
    """The FastAPI application (see the module docstring); ``app.state.stats`` counts.
    ``lm_models`` adds model-backed endpoints: name -> an object with
    ``chat_completion(body, messages)`` and ``completion(body, prompt)`` returning OpenAI
    objects (:class:`advlab.lm.chat.ChatLM`: a real model, real logprobs, ``logit_bias``)."""
    fastapi = _import_fastapi()
    from fastapi.responses import JSONResponse, Response
    from starlette.requests import ClientDisconnect

    faults = faults or Faults()
    stats = stats if stats is not None else ServerStats()
    fault = _Fault(faults, seed)
    key = os.environ.get(api_key_env, "") if api_key_env else ""
    if api_key_env and not key:
        raise ConfigError(f"environment variable {api_key_env} (the API key) is not set or empty")
    shared: dict[str, Any] = {"secret": secret, "seed": seed, "guards": tuple(guards)}
    apps = {f"level-{n}": ChatApp.level(n, **shared) for n in range(TOP_LEVEL + 1)}
    agents = {
        f"agent-{n}": Agent(ChatApp.level(n, **shared), demo_workspace())
        for n in range(TOP_LEVEL + 1)
    }
    lms = dict(lm_models or {})
    app = fastapi.FastAPI(title="advlab vulnerable LLM apps", docs_url=None, redoc_url=None)
    app.state.stats = stats

    def error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> Any:
        body = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
        return JSONResponse(body, status_code=status, headers=headers)

    async def gate(request: Any, kind: str) -> tuple[Any, dict[str, Any] | None]:
        stats.requests[kind] += 1
        if key:
            auth = request.headers.get("authorization", "")
            if not hmac.compare_digest(auth.encode(), f"Bearer {key}".encode()):
                return error(401, "invalid or missing API key", "invalid_api_key"), None
        try:
            raw = await request.body()
        except ClientDisconnect:
            return Response(status_code=499), None
        try:
            body = json.loads(raw)
        except ValueError:
            return error(400, "the request body is not JSON", "invalid_json"), None
        if not isinstance(body, dict):
            return error(400, "the request body must be a JSON object", "invalid_json"), None
        model = body.get("model")
        if model not in apps and model not in agents and model not in lms:
            return error(404, f"the model {model!r} does not exist", "model_not_found"), None
        if faults.latency_s:
            await asyncio.sleep(faults.latency_s)
        drawn = fault.draw()
        if drawn != "ok":
            stats.faults[drawn] += 1
        if drawn == "rate_limit":
            headers = {"retry-after": f"{faults.retry_after:g}"}
            return error(429, "rate limit reached; slow down", "rate_limit_exceeded", headers), None
        if drawn == "error":
            return error(503, "the server is overloaded", "overloaded"), None
        if drawn == "timeout":
            await asyncio.sleep(faults.hang_s)
        if drawn == "malformed":
            return Response(
                b'{"id": "cmpl-x", "choices": [{"message": {"content": "Sur',
                media_type="application/json",
            ), None
        return None, body

    async def answer(model: str, messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
        prompt = messages[-1].content if messages else ""
        stats.received.append(prompt)
        if model in agents:
            completion = await agents[model].acomplete(messages, SamplingParams())
            calls = [c.model_dump(mode="json") for c in completion.tool_calls]
            return completion.text, calls
        return apps[model].respond(messages), []

    def usage(messages: list[Message], text: str) -> dict[str, int]:
        p = sum(len(m.content.split()) for m in messages)
        c = len(text.split())
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    def model_answer(make: Any, last: dict[str, str]) -> Any:
        stats.received.append(last["content"])
        try:
            out = make()
        except ValueError as exc:  # bad max_tokens, logit_bias, ...
            return error(400, str(exc), "invalid_request")
        stats.answered.append(last["content"])
        return JSONResponse(out)

    async def health(request: Any) -> Any:
        return JSONResponse({"status": "ok"})

    async def models(request: Any) -> Any:
        ids = [*apps, *agents, *lms]
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": i, "object": "model", "owned_by": "advlab"} for i in ids],
            }
        )

    async def chat(request: Any) -> Any:
        refused, body = await gate(request, "chat")
        if refused is not None:
            return refused
        assert body is not None
        try:
            messages = [
                Message(
                    role="system" if m["role"] == "developer" else m["role"],
                    content=content_text(m.get("content"), "request"),
                )
                for m in body.get("messages", [])
            ]
        except (KeyError, TypeError, ValueError, AdvlabError) as exc:  # pydantic or part errors
            return error(400, f"bad messages: {type(exc).__name__}", "invalid_messages")
        if not messages:
            return error(400, "messages must be a non-empty list", "invalid_messages")
        if body["model"] in lms:
            msgs = [{"role": m.role, "content": m.content} for m in messages]
            return model_answer(lambda: lms[body["model"]].chat_completion(body, msgs), msgs[-1])
        text, calls = await answer(body["model"], messages)
        text, reason = _cut(text, body.get("max_tokens"), body.get("stop"))
        stats.answered.append(messages[-1].content)
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": reason,
        }
        if calls:
            choice["message"]["advlab_tool_calls"] = calls
        if body.get("logprobs"):
            top = body.get("top_logprobs") or 1
            choice["logprobs"] = {"content": _fake_logprobs(text.split(" "), int(top))}
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(stats.answered)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [choice],
                "usage": usage(messages, text),
            }
        )

    async def completions(request: Any) -> Any:
        refused, body = await gate(request, "completions")
        if refused is not None:
            return refused
        assert body is not None
        prompt = body.get("prompt")
        if isinstance(prompt, list) and prompt and isinstance(prompt[0], str):
            prompt = prompt[0]
        if not isinstance(prompt, str):
            return error(400, "prompt must be a string", "invalid_prompt")
        if body["model"] in lms:
            msg = {"role": "user", "content": prompt}
            return model_answer(lambda: lms[body["model"]].completion(body, prompt), msg)
        messages = [Message(role="user", content=prompt)]
        text, _ = await answer(body["model"], messages)
        text, reason = _cut(text, body.get("max_tokens"), body.get("stop"))
        stats.answered.append(prompt)
        choice: dict[str, Any] = {"index": 0, "text": text, "finish_reason": reason}
        n = body.get("logprobs")
        if isinstance(n, int) and not isinstance(n, bool):
            lps = _fake_logprobs(text.split(" "), max(n, 1))
            choice["logprobs"] = {
                "tokens": [x["token"] for x in lps],
                "token_logprobs": [x["logprob"] for x in lps],
                "top_logprobs": [
                    {a["token"]: a["logprob"] for a in x["top_logprobs"]} for x in lps
                ],
            }
        return JSONResponse(
            {
                "id": f"cmpl-{len(stats.answered)}",
                "object": "text_completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [choice],
                "usage": usage(messages, text),
            }
        )

    async def stats_route(request: Any) -> Any:
        return JSONResponse({"requests": dict(stats.requests), "faults": dict(stats.faults)})

    app.add_route("/health", health, methods=["GET"])
    app.add_route("/stats", stats_route, methods=["GET"])
    app.add_route("/v1/models", models, methods=["GET"])
    app.add_route("/v1/chat/completions", chat, methods=["POST"])
    app.add_route("/v1/completions", completions, methods=["POST"])
    return app


def check_host(host: str, port: int) -> None:
    """Refuse a non-loopback host or an invalid port (:class:`ConfigError`)."""
    if host not in LOOPBACK:
        raise ConfigError(
            f"refusing to listen on {host!r}: serve-llm binds loopback (127.0.0.1) only"
        )
    if not 0 <= port <= 65535:
        raise ConfigError(f"port must be in 0..65535, got {port}")

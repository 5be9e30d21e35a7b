"""A raw ASGI server answering OpenAI-style requests with chosen shapes and faults (tests only).

``POST /<shape>/v1/chat/completions`` (or ``/completions``, or ``/<shape>/rest``) answers
with the shape named by the first path segment; ``calls`` counts requests per shape and
``bodies`` keeps the decoded request bodies. Shapes:

``ok``            a complete answer           ``no-usage``     no ``usage``
``empty-choices`` ``choices: []``             ``no-choices``   no ``choices``
``parts``         content as a list of parts  ``extra``        unknown fields everywhere
``tools``         ``content: null`` + tool_calls   ``text-only`` a chat choice with ``text``
``list-body``     a JSON list                 ``choices-str``  ``choices`` is a string
``badjson``       not JSON                    ``nonutf8``      bytes that are not UTF-8
``huge``          a 3 MB answer               ``rate-K``       429 (Retry-After 0.25) K times
``503-K``         503 K times, then ok        ``401``          401 echoing the auth header
``400``           400 always                  ``busy``         503 always (a REST "rate limit")
``rest``          ``{"output": {"reply": ...}}`` echoing the request's ``input.text``
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any


def _chat(text: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id": "x",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        **extra,
    }


class ShapeServer:
    """The ASGI app."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.bodies: list[Any] = []
        self.auth: list[str] = []

    def answer(
        self, shape: str, body: Any, auth: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        k = self.calls[shape]
        if shape.startswith("rate-"):
            if k <= int(shape.split("-")[1]):
                return 429, [(b"retry-after", b"0.25")], b'{"error": {"message": "slow down"}}'
            shape = "ok"
        if shape.startswith("503-"):
            if k <= int(shape.split("-")[1]):
                return 503, [], b'{"error": "overloaded"}'
            shape = "ok"
        doc: Any
        if shape == "ok":
            doc = _chat("hello there")
        elif shape == "no-usage":
            doc = _chat("hi")
            del doc["usage"]
        elif shape == "empty-choices":
            doc = {"choices": [], "usage": {"prompt_tokens": 3}}
        elif shape == "no-choices":
            doc = {"id": "x", "object": "chat.completion"}
        elif shape == "parts":
            doc = _chat(
                [{"type": "text", "text": "hel"}, {"type": "image_url", "image_url": {}}, "lo"]
            )
        elif shape == "extra":
            doc = _chat("fine", system_fingerprint="fp", x_vendor={"a": 1})
            doc["choices"][0]["message"]["reasoning_content"] = "hmm"
            doc["usage"]["prompt_tokens_details"] = {"cached_tokens": 0}
        elif shape == "tools":
            doc = _chat(None)
            doc["choices"][0]["message"]["tool_calls"] = [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "send_email", "arguments": '{"to": "a@b.c"}'},
                }
            ]
            doc["choices"][0]["finish_reason"] = "tool_calls"
        elif shape == "text-only":
            doc = {"choices": [{"text": "plain", "finish_reason": "stop"}]}
        elif shape == "list-body":
            doc = [1, 2]
        elif shape == "choices-str":
            doc = {"choices": "nope"}
        elif shape == "badjson":
            return 200, [], b'{"choices": [{"mess'
        elif shape == "nonutf8":
            return 200, [], b'{"choices": "\xff\xfe"}'
        elif shape == "huge":
            return 200, [], json.dumps(_chat("x" * 3_000_000)).encode()
        elif shape == "401":
            return 401, [], json.dumps({"error": f"bad key {auth}"}).encode()
        elif shape == "400":
            return 400, [], b'{"error": {"message": "bad request"}}'
        elif shape == "busy":
            return 503, [], b'{"error": "busy"}'
        elif shape == "rest":
            text = body.get("input", {}).get("text") if isinstance(body, dict) else None
            doc = {"output": {"reply": [f"echo: {text}"], "tokens": {"in": 4, "out": 2}}}
        else:
            return 404, [], b'{"error": "unknown shape"}'
        return 200, [], json.dumps(doc).encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        shape = scope["path"].strip("/").split("/")[0]
        self.calls[shape] += 1
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        auth = headers.get("authorization", "")
        self.auth.append(auth)
        raw = b""
        while True:
            msg = await receive()
            raw += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.bodies.append(body)
        status, extra, out = self.answer(shape, body, auth)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *extra],
            }
        )
        await send({"type": "http.response.body", "body": out})

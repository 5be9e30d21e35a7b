"""A fault-injection prediction server for the HTTP target's tests (raw ASGI, 127.0.0.1 only).

The fault is chosen by the first path segment: ``POST /<fault>/predict``. Correct answers
come from a fixed random linear model of the flattened inputs (10 classes), so an attack
against the ``ok`` fault really runs. Faults:

``ok``, ``logits``, ``labels``                 valid answers (probabilities, logits, labels)
``rate-K``                                     429 with ``Retry-After: 0`` for the first K calls
``down-after-K``                               K valid answers, then 503 forever
``503``                                        503 forever
``drip``                                       a valid answer sent in 20 pieces, 0.1 s apart
``hang``                                       accepts, never answers (for ``hang_s`` seconds)
``badjson``, ``nonobject``, ``deep``           not JSON, a JSON list, a 100,000-deep nesting
``huge``                                       a 3 MB body
``nan``, ``null``, ``string``, ``bool``,       hostile ``outputs`` (one bad value per batch)
``inf``, ``ragged``, ``shape``, ``negprob``
``nan-after-K``                                K valid answers, then NaN scores
``lab-range``, ``lab-float``                   hostile ``labels``
``gzip-lie``                                   ``Content-Encoding: gzip`` on plain bytes
``gzip-bomb``                                  a valid gzip body that inflates to 20 MB
``echo``                                       every other call a 503 whose body echoes the
                                               Authorization header and query string; valid
                                               answers carry the header back in ``X-Echo``
``echo-500``, ``echo-401``, ``echo-bad``       always 500 / 401 echoing them; a 200 whose
                                               ``outputs`` hold the echoed header
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections import Counter
from typing import Any

import numpy as np

NUM_CLASSES = 10
FEATURES = 64  # digits: 1 x 8 x 8


class FaultServer:
    """The ASGI app; ``calls`` counts requests per fault, ``seen`` keeps (fault, query) and
    ``auth_seen`` the Authorization headers received."""

    def __init__(self, *, seed: int = 0, hang_s: float = 5.0) -> None:
        rng = np.random.default_rng(seed)
        self.weights = rng.normal(size=(FEATURES, NUM_CLASSES)).astype(np.float64) * 3
        self.hang_s = hang_s
        self.calls: Counter[str] = Counter()
        self.bomb = gzip.compress(b" " * 20_000_000, compresslevel=9)
        self.seen: list[tuple[str, str]] = []
        self.auth_seen: set[str] = set()

    # ------------------------------------------------------------------ answers
    def logits(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs, dtype=np.float64).reshape(-1, FEATURES)
        return x @ self.weights

    def probs(self, inputs: Any) -> np.ndarray:
        z = self.logits(inputs)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def answer(self, fault: str, inputs: Any, auth: str, query: str) -> tuple[int, Any]:
        """(status, JSON-able body) for the faults that answer with one JSON document."""
        n = len(inputs)
        probs = self.probs(inputs).tolist()
        k = self.calls[fault]
        if fault in ("ok", "drip", "hang"):
            return 200, {"outputs": probs}
        if fault == "logits":
            return 200, {"outputs": self.logits(inputs).tolist()}
        if fault == "labels":
            return 200, {"labels": self.logits(inputs).argmax(1).tolist()}
        if fault.startswith("rate-"):
            limit = int(fault.split("-")[1])
            return (429, {"error": "slow down"}) if k <= limit else (200, {"outputs": probs})
        if fault.startswith("down-after-") or fault.startswith("nan-after-"):
            if k <= int(fault.rsplit("-", 1)[1]):
                return 200, {"outputs": probs}
            if fault.startswith("down"):
                return 503, {"error": "service unavailable"}
            return 200, {"outputs": [[float("nan")] * NUM_CLASSES for _ in range(n)]}
        if fault == "503":
            return 503, {"error": "service unavailable"}
        bad = {
            "nan": float("nan"),
            "null": None,
            "string": "0.5",
            "bool": True,
            "inf": float("inf"),
        }
        if fault in bad:
            probs[-1][0] = bad[fault]
            return 200, {"outputs": probs}
        if fault == "ragged":
            probs[-1] = probs[-1][:-1]
            return 200, {"outputs": probs}
        if fault == "shape":
            return 200, {"outputs": probs[:-1]}
        if fault == "negprob":
            probs[0][0] = -0.5
            return 200, {"outputs": probs}
        if fault == "nonobject":
            return 200, probs
        if fault == "lab-range":
            return 200, {"labels": [NUM_CLASSES] * n}
        if fault == "lab-float":
            return 200, {"labels": [1.5] * n}
        echoed = f"you sent Authorization: {auth} to ?{query}"
        if fault == "echo":
            if k % 2 == 1:
                return 503, {"error": echoed}
            return 200, {"outputs": probs}
        if fault == "echo-500":
            return 500, {"error": echoed}
        if fault == "echo-401":
            return 401, {"error": echoed, "detail": auth}
        if fault == "echo-bad":
            return 200, {"outputs": [[auth] * NUM_CLASSES for _ in range(n)]}
        return 404, {"error": f"unknown fault {fault!r}"}

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"].strip("/").split("/")
        fault = path[0] if len(path) == 2 and path[1] == "predict" else "unknown"
        self.calls[fault] += 1
        query = scope.get("query_string", b"").decode()
        self.seen.append((fault, query))
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        auth = headers.get("authorization", "")
        self.auth_seen.add(auth)
        raw = b""
        while True:
            msg = await receive()
            raw += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        if fault == "hang":
            await asyncio.sleep(self.hang_s)
        status, extra, body = self.render(fault, raw, auth, query)
        out_headers = [(b"content-type", b"application/json"), *extra]
        if fault == "echo" and status == 200:
            out_headers.append((b"x-echo", auth.encode()))
        await send({"type": "http.response.start", "status": status, "headers": out_headers})
        if fault == "drip":
            step = max(len(body) // 20, 1)
            for i in range(0, len(body), step):
                await send(
                    {"type": "http.response.body", "body": body[i : i + step], "more_body": True}
                )
                await asyncio.sleep(0.1)
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.body", "body": body})

    def render(self, fault: str, raw: bytes, auth: str, query: str) -> tuple[int, list, bytes]:
        """(status, extra headers, body bytes)."""
        if fault == "badjson":
            return 200, [], b"{not json"
        if fault == "deep":
            return 200, [], b"[" * 100_000 + b"]" * 100_000
        if fault == "huge":
            return 200, [], b'{"outputs": "' + b"x" * 3_000_000 + b'"}'
        if fault == "gzip-lie":
            return 200, [(b"content-encoding", b"gzip")], b'{"outputs": [[0.1]]}'
        if fault == "gzip-bomb":
            return 200, [(b"content-encoding", b"gzip")], self.bomb
        try:
            inputs = json.loads(raw)["inputs"]
        except (ValueError, KeyError, TypeError):
            return 422, [], json.dumps({"error": "bad request", "code": "invalid_json"}).encode()
        status, body = self.answer(fault, inputs, auth, query)
        extra = [(b"retry-after", b"0")] if status == 429 else []
        return status, extra, json.dumps(body).encode()

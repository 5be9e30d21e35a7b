"""What ``advlab serve`` says about itself: its endpoints (printed at start-up) and the HTML
page served at ``/`` (what the server is, its endpoints, the model it answers for)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

ENDPOINTS: tuple[tuple[str, str, str], ...] = (
    ("GET", "/", "this page"),
    (
        "POST",
        "/predict",
        'predictions: body {"inputs": [[...], ...]} (a batch, or one point) -> '
        '{"outputs": [[...]], "labels": [...]}',
    ),
    ("GET", "/info", "the model: input shape, classes, bounds, access, query limits (JSON)"),
    ("GET", "/health", 'liveness: {"status": "ok"}, no authentication'),
)
"""(method, path, description) of every endpoint."""


def endpoint_lines(base_url: str) -> list[str]:
    """One line per endpoint, as printed when the server starts."""
    base = base_url.rstrip("/")
    return [f"  {m:<4} {base}{p:<9} {d}" for m, p, d in ENDPOINTS]


def _example(info: dict[str, Any]) -> str:
    """A curl command posting one all-zero point of the model's input shape."""
    point: Any = 0.0
    for dim in reversed(info.get("input_shape") or []):
        point = [point] * int(dim)
    body = json.dumps({"inputs": [point]}, separators=(",", ":"))
    if len(body) > 400:
        body = '{"inputs": [ ...one point of the input shape... ]}'
    auth = ' -H "Authorization: Bearer $KEY"' if info.get("auth") else ""
    return f"curl -s{auth} -H 'Content-Type: application/json' -d '{body}' URL/predict"


def index_html(info: dict[str, Any], *, show_model: bool) -> str:
    """The ``/`` page. ``show_model`` is false when an API key is required and the request
    did not carry it: the page then lists the endpoints only."""
    rows = "".join(
        f"<tr><td><code>{m}</code></td><td><code>{escape(p)}</code></td><td>{escape(d)}</td></tr>"
        for m, p, d in ENDPOINTS
    )
    if show_model:
        items = "".join(
            f"<tr><th>{escape(k)}</th><td><code>{escape(json.dumps(v))}</code></td></tr>"
            for k, v in info.items()
        )
        model = f"<h2>Model</h2><table>{items}</table>"
    else:
        model = (
            "<h2>Model</h2><p>This server requires an API key "
            "(<code>Authorization: Bearer &lt;key&gt;</code>); send it to see the model.</p>"
        )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>advlab prediction server</title><style>body{font-family:sans-serif;"
        "max-width:60em;margin:2em auto}td,th{padding:.2em .6em;text-align:left;"
        "vertical-align:top}code{font-size:.95em}</style></head><body>"
        "<h1>advlab prediction server</h1><p>A model saved with advlab, served as a JSON "
        "prediction API for adversarial testing (<code>advlab serve</code>). Inputs are checked "
        "against the model's shape and bounds; each client has a query limit when one is set."
        f"</p><h2>Endpoints</h2><table>{rows}</table>"
        f"<h2>Example</h2><pre>{escape(_example(info))}</pre>{model}</body></html>"
    )

"""Property-based fuzzing of the HTTP target's answer handling.

Two levels: the decoders of :mod:`advlab.targets.http_answer` on arbitrary JSON values and
bytes, and a whole :meth:`HttpClassifier.scores` call over an in-memory transport answering
arbitrary status codes, headers and bodies. Properties: the only exceptions are advlab
errors (one line), and an accepted answer is exactly the numbers that were sent.
"""

from __future__ import annotations

import gzip
import json
import math
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import advlab.targets.http as http_mod
from advlab.errors import AdvlabError
from advlab.targets import HttpClassifier
from advlab.targets import http_answer as ha

N, K = 3, 4
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=1),
    st.text(max_size=8),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=30,
)
# rows that are often nearly valid: the interesting edge
near_rows = st.lists(
    st.lists(
        st.one_of(st.floats(min_value=0, max_value=1), scalars), min_size=K - 1, max_size=K + 1
    ),
    min_size=N - 1,
    max_size=N + 1,
)
outputs = st.one_of(near_rows, json_values)


def valid_scores(value: Any, probs: bool) -> bool:
    """An independent statement of what an acceptable ``outputs`` is."""
    if not (isinstance(value, list) and len(value) == N):
        return False
    if not all(isinstance(r, list) and len(r) == K for r in value):
        return False
    flat = [v for r in value for v in r]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
        return False
    if not all(math.isfinite(v) and abs(v) <= np.finfo(np.float32).max for v in flat):
        return False
    return not probs or all(-ha.PROB_TOLERANCE <= v <= 1 + ha.PROB_TOLERANCE for v in flat)


@FUZZ
@given(value=outputs, probs=st.booleans())
def test_scores_accepts_exactly_valid_outputs(value: Any, probs: bool) -> None:
    try:
        out = ha.scores(value, N, K, probs=probs, where="u")
    except ha.BadAnswer as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 400
        assert not valid_scores(value, probs)
        return
    assert valid_scores(value, probs)
    assert out.shape == (N, K) and out.dtype == np.float32
    np.testing.assert_array_equal(out, np.asarray(value, dtype=np.float64).astype(np.float32))


@FUZZ
@given(value=st.one_of(st.lists(scalars, min_size=N, max_size=N), json_values))
def test_labels_accepts_exactly_valid_labels(value: Any) -> None:
    ok = (
        isinstance(value, list)
        and len(value) == N
        and all(type(v) is int and 0 <= v < K for v in value)
    )
    try:
        out = ha.labels(value, N, K, where="u")
    except ha.BadAnswer:
        assert not ok
        return
    assert ok and out.tolist() == value


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())))
def test_decode_json_gives_an_object_or_bad_answer(raw: bytes) -> None:
    try:
        body = ha.decode_json(raw, "u")
    except ha.BadAnswer as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(body, dict)


# ---------------------------------------------------------------------- whole requests
# one target for every example (building an httpx client costs an SSL context); each example
# gives it an in-memory transport and a fresh meter
_TARGET = HttpClassifier(
    "http://fuzz.invalid/predict",
    input_shape=(2,),
    num_classes=K,
    api_key_env=None,
    retries=1,
    backoff=0.0,
    returns="logits",
)
bodies = st.one_of(
    st.builds(lambda o: {"outputs": o}, outputs),
    st.builds(
        lambda o, c: {"error": o, "code": c}, json_values, st.sampled_from(["query_limit", "x"])
    ),
    json_values,
).map(lambda v: json.dumps(v).encode())
raw_bodies = st.one_of(bodies, st.binary(max_size=100))
statuses = st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 413, 422, 429, 500, 503])
encodings = st.sampled_from([None, "gzip", "gzip-lie", "deflate", "identity"])


def _outputs(body: bytes) -> Any:
    try:
        sent = json.loads(body)
    except ValueError:
        return None
    return sent.get("outputs") if isinstance(sent, dict) else None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=statuses,
    body=raw_bodies,
    encoding=encodings,
    retry_after=st.one_of(st.none(), st.text(alphabet="0123456789.-e inf", max_size=6)),
)
@example(status=503, body=b"\x00\nline two", encoding=None, retry_after=None)  # found by fuzzing
@example(  # an accepted answer, gzip-encoded
    status=200,
    body=json.dumps({"outputs": [[0.5, -2, 3.25, 1e30]] * N}).encode(),
    encoding="gzip",
    retry_after=None,
)
def test_any_answer_is_a_valid_tensor_or_an_advlab_error(
    status: int, body: bytes, encoding: str | None, retry_after: str | None
) -> None:
    headers = {"content-type": "application/json"}
    payload = body
    if encoding == "gzip":
        payload = gzip.compress(body)
    if encoding is not None:
        headers["content-encoding"] = "gzip" if encoding == "gzip-lie" else encoding
    if retry_after is not None:
        headers["retry-after"] = retry_after

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, content=payload)

    t = _TARGET
    t._client.close()
    t._client = httpx.Client(transport=httpx.MockTransport(handler))
    t.meter.reset()
    x = torch.zeros(N, 2)
    try:
        out = t.scores(x)
    except AdvlabError as exc:
        assert "\n" not in str(exc)
        assert t.meter.queries in (0, N)
        honest = 200 <= status < 300 and encoding in (None, "gzip", "identity")
        assert not (honest and valid_scores(_outputs(body), probs=False)), "a valid answer refused"
        return
    sent = json.loads(body)
    assert 200 <= status < 300 and valid_scores(sent.get("outputs"), probs=False)
    torch.testing.assert_close(out, torch.tensor(sent["outputs"], dtype=torch.float64).float())


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_mod, "_sleep", lambda s: None)

"""The prediction server: protocol, validation, auth, per-client limits, safe loading."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from advlab.data import load_dataset
from advlab.errors import ConfigError, UnsafeFileError
from advlab.models import ModelBundle, TrainConfig, reference_model, save_model
from advlab.serve import create_app, is_loopback, serve, serve_cli
from advlab.targets import FunctionClassifier

with warnings.catch_warnings():  # starlette's notice about its httpx-based test client
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return reference_model("digits", train=TrainConfig(epochs=3))


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    ds = load_dataset("digits")
    return ds.x_test[:40], ds.y_test[:40]


def _local_probs(bundle: ModelBundle, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(bundle.model(torch.as_tensor(x)), 1).numpy()


def test_health_and_info(bundle: ModelBundle) -> None:
    client = TestClient(create_app(bundle, query_budget=100))
    assert client.get("/health").json() == {"status": "ok"}
    info = client.get("/info").json()
    assert info["input_shape"] == [1, 8, 8]
    assert info["num_classes"] == 10
    assert info["bounds"] == [0.0, 1.0]
    assert info["access"] == "scores"
    assert info["output"] == "probs"
    assert info["query_budget"] == 100 and info["max_queries"] == 100
    assert info["class_names"] == bundle.meta["class_names"]


def test_predict_matches_local_model(bundle: ModelBundle, data: tuple) -> None:
    x, _ = data
    app = create_app(bundle)
    client = TestClient(app)
    resp = client.post("/predict", json={"inputs": x.tolist()})
    assert resp.status_code == 200
    body = resp.json()
    ref = _local_probs(bundle, x)
    np.testing.assert_allclose(np.asarray(body["outputs"]), ref, atol=1e-5)
    assert body["labels"] == ref.argmax(1).tolist()
    assert resp.headers["X-Queries-Used"] == str(len(x))
    # one point without the batch dimension is accepted too
    one = client.post("/predict", json={"inputs": x[0].tolist()}).json()
    assert one["labels"] == [int(ref[0].argmax())]


def test_logits_output(bundle: ModelBundle, data: tuple) -> None:
    x, _ = data
    client = TestClient(create_app(bundle, output="logits"))
    out = np.asarray(client.post("/predict", json={"inputs": x[:5].tolist()}).json()["outputs"])
    with torch.no_grad():
        ref = bundle.model(torch.as_tensor(x[:5])).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-5)
    assert client.get("/info").json()["output"] == "logits"


def test_labels_only(bundle: ModelBundle, data: tuple) -> None:
    x, _ = data
    client = TestClient(create_app(bundle, labels_only=True))
    body = client.post("/predict", json={"inputs": x.tolist()}).json()
    assert set(body) == {"labels"}
    assert body["labels"] == _local_probs(bundle, x).argmax(1).tolist()
    info = client.get("/info").json()
    assert info["access"] == "labels" and info["output"] == "labels"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"inputs": [[0.5] * 64]}, "expected (N, 1, 8, 8)"),
        ({"inputs": [[[[2.0] * 8] * 8]]}, "outside the target's bounds"),
        ({"inputs": [[[[float("nan")] * 8] * 8]]}, "NaN"),
        ({"inputs": [[1, 2], [3]]}, "rectangular"),
        ({"inputs": "abc"}, "rectangular"),
        ({"x": []}, '{"inputs"'),
    ],
)
def test_bad_inputs_are_422(bundle: ModelBundle, payload: dict, fragment: str) -> None:
    app = create_app(bundle, query_budget=5)
    client = TestClient(app)
    # NaN is not strict JSON; Python's encoder writes it as the NaN token, which we accept
    resp = client.post(
        "/predict", content=json.dumps(payload), headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 422
    assert fragment in resp.json()["error"]
    assert app.state.limiter.used == {}  # rejected requests are not charged


def test_not_json_is_422(bundle: ModelBundle) -> None:
    resp = TestClient(create_app(bundle)).post("/predict", content=b"{not json")
    assert resp.status_code == 422
    assert resp.json()["code"] == "invalid_json"


def test_size_limits(bundle: ModelBundle, data: tuple) -> None:
    x, _ = data
    client = TestClient(create_app(bundle, max_batch=10))
    resp = client.post("/predict", json={"inputs": x[:11].tolist()})
    assert resp.status_code == 413
    assert "at most 10" in resp.json()["error"]
    small = TestClient(create_app(bundle, max_body_bytes=100))
    assert small.post("/predict", json={"inputs": x[:2].tolist()}).status_code == 413


def test_per_client_query_limit(bundle: ModelBundle, data: tuple, monkeypatch) -> None:
    x, _ = data
    monkeypatch.setenv("TEST_SERVE_KEYS", "alpha-key,beta-key")
    app = create_app(bundle, query_budget=25, api_key_env="TEST_SERVE_KEYS")
    client = TestClient(app)
    alpha = {"Authorization": "Bearer alpha-key"}
    beta = {"Authorization": "Bearer beta-key"}
    assert (
        client.post("/predict", json={"inputs": x[:20].tolist()}, headers=alpha).status_code == 200
    )
    resp = client.post("/predict", json={"inputs": x[:10].tolist()}, headers=alpha)
    assert resp.status_code == 429
    body = resp.json()
    assert body["code"] == "query_limit"
    assert "20 of 25" in body["error"]
    # a refused request does not use the quota: 5 points still fit
    ok = client.post("/predict", json={"inputs": x[:5].tolist()}, headers=alpha)
    assert ok.status_code == 200 and ok.headers["X-Queries-Remaining"] == "0"
    # another client (another key) has its own quota
    assert (
        client.post("/predict", json={"inputs": x[:20].tolist()}, headers=beta).status_code == 200
    )
    assert sorted(app.state.limiter.used.values()) == [20, 25]
    # clients are named by a digest, never by the key itself
    assert not any("alpha" in c or "beta" in c for c in app.state.limiter.used)


def test_api_key_required(bundle: ModelBundle, data: tuple, monkeypatch) -> None:
    x, _ = data
    monkeypatch.setenv("TEST_SERVE_KEY", "s3cret-value")
    client = TestClient(create_app(bundle, api_key_env="TEST_SERVE_KEY"))
    payload = {"inputs": x[:2].tolist()}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-value"}):
        resp = client.post("/predict", json=payload, headers=headers)
        assert resp.status_code == 401
        assert "s3cret-value" not in resp.text
    assert client.get("/info").status_code == 401
    assert client.get("/health").status_code == 200
    good = {"Authorization": "Bearer s3cret-value"}
    assert client.post("/predict", json=payload, headers=good).status_code == 200
    assert client.get("/info", headers=good).json()["auth"] is True


def test_api_key_env_must_be_set(bundle: ModelBundle, monkeypatch) -> None:
    monkeypatch.delenv("TEST_SERVE_UNSET", raising=False)
    with pytest.raises(ConfigError, match="TEST_SERVE_UNSET"):
        create_app(bundle, api_key_env="TEST_SERVE_UNSET")


def test_serves_any_target(data: tuple) -> None:
    x, _ = data
    w = np.random.default_rng(0).normal(size=(64, 10)).astype(np.float32)
    target = FunctionClassifier(
        lambda a: a.reshape(len(a), -1) @ w, input_shape=(1, 8, 8), num_classes=10, returns="logits"
    )
    body = TestClient(create_app(target)).post("/predict", json={"inputs": x.tolist()}).json()
    assert body["labels"] == (x.reshape(len(x), -1) @ w).argmax(1).tolist()


def test_create_app_rejects_bad_arguments(bundle: ModelBundle) -> None:
    with pytest.raises(ConfigError, match="ModelBundle or a Target"):
        create_app(object())
    with pytest.raises(ConfigError, match="output"):
        create_app(bundle, output="scores")
    with pytest.raises(ConfigError, match="query_budget"):
        create_app(bundle, query_budget=0)
    with pytest.raises(ConfigError, match="once"):
        create_app(bundle, query_budget=5, max_queries=6)


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert not is_loopback("example.com")


@pytest.fixture()
def saved_model(bundle: ModelBundle, tmp_path: Path) -> Path:
    return save_model(bundle.model, tmp_path / "m.safetensors", bundle.meta)


def test_serve_refuses_remote_hosts(saved_model: Path, monkeypatch) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("must not start"))
    with pytest.raises(ConfigError, match="loopback"):
        serve(saved_model, host="0.0.0.0")


def test_serve_loads_safely_and_binds_loopback(
    saved_model: Path, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    import uvicorn

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    serve_cli(saved_model, port=8123, labels_only=True, query_budget=7, device="cpu")
    assert len(calls) == 1
    call = calls[0]
    assert call["host"] == "127.0.0.1" and call["port"] == 8123
    # forwarded headers are not trusted unless proxies are named
    assert call["proxy_headers"] is False
    info = TestClient(call["app"]).get("/info").json()
    assert info["access"] == "labels" and info["query_budget"] == 7
    assert "deprecated" not in caplog.text
    # the deprecated --max-queries still works, and says so
    serve_cli(saved_model, port=8123, max_queries=9, device="cpu", forwarded_allow_ips="10.0.0.1")
    assert TestClient(calls[-1]["app"]).get("/info").json()["query_budget"] == 9
    assert "deprecated" in caplog.text and "--query-budget" in caplog.text
    assert calls[-1]["proxy_headers"] is True and calls[-1]["forwarded_allow_ips"] == "10.0.0.1"
    with pytest.raises(ConfigError, match="forwarded_allow_ips"):
        serve(saved_model, forwarded_allow_ips="not-an-address", device="cpu")
    # an explicit opt-in allows other addresses
    serve(saved_model, host="0.0.0.0", allow_remote=True, device="cpu")
    assert calls[-1]["host"] == "0.0.0.0"


def test_serve_refuses_pickles(tmp_path: Path, monkeypatch) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("must not start"))
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(UnsafeFileError, match="never unpickles"):
        serve(bad)


def test_index_page_says_what_the_server_is(bundle: ModelBundle, monkeypatch) -> None:
    from html.parser import HTMLParser

    from advlab.serve_page import ENDPOINTS

    client = TestClient(create_app(bundle, query_budget=11))
    resp = client.get("/")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    page = resp.text
    HTMLParser().feed(page)  # well-formed enough to parse
    assert "advlab prediction server" in page
    for method, path, _ in ENDPOINTS:
        assert f"<code>{method}</code></td><td><code>{path}</code>" in page
    assert "input_shape" in page and "[1, 8, 8]" in page and "query_budget" in page
    # with an API key configured, the page hides the model from requests without the key
    monkeypatch.setenv("TEST_SERVE_PAGE_KEY", "s3cret-page-key")
    locked = TestClient(create_app(bundle, api_key_env="TEST_SERVE_PAGE_KEY"))
    anon = locked.get("/").text
    assert "/predict" in anon and "input_shape" not in anon and "s3cret" not in anon
    auth = {"Authorization": "Bearer s3cret-page-key"}
    assert "input_shape" in locked.get("/", headers=auth).text


def test_serve_prints_its_endpoints(saved_model: Path, monkeypatch, capsys) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    serve_cli(saved_model, port=8124, device="cpu")
    err = capsys.readouterr().err
    assert "http://127.0.0.1:8124/" in err
    for path in ("/predict", "/info", "/health"):
        assert f"http://127.0.0.1:8124{path}" in err

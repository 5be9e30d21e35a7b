"""HttpClassifier against the real ``advlab serve`` app running under uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

import advlab.targets.http as http_mod
from advlab.access import Access
from advlab.attacks.evasion import PGD
from advlab.data import load_dataset
from advlab.errors import AccessError, AdvlabError, BudgetExhausted, ConfigError, InputError
from advlab.models import ModelBundle, TrainConfig, reference_model
from advlab.serve import background_server, create_app
from advlab.targets import HttpClassifier
from advlab.targets.http import HttpAuthError, TargetUnavailable, safe_url

SHAPE = (1, 8, 8)
NO_KEY = "ADVLAB_TEST_UNSET_KEY"


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return reference_model("digits", train=TrainConfig(epochs=3))


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    ds = load_dataset("digits")
    return torch.as_tensor(ds.x_test), torch.as_tensor(ds.y_test)


@pytest.fixture(scope="module")
def local_logits(bundle: ModelBundle, data: tuple) -> torch.Tensor:
    with torch.no_grad():
        return bundle.model(data[0])


@pytest.fixture(scope="module")
def served(bundle: ModelBundle) -> Iterator[tuple[str, Any]]:
    app = create_app(bundle)
    with background_server(app) as url:
        yield url, app


@pytest.fixture()
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record backoff sleeps instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(http_mod, "_sleep", recorded.append)
    return recorded


def client(url: str, **kw: Any) -> HttpClassifier:
    opts: dict[str, Any] = {"input_shape": SHAPE, "num_classes": 10, "api_key_env": NO_KEY}
    opts.update(kw)
    return HttpClassifier(url + "/predict", **opts)


class Scripted:
    """ASGI wrapper: answers the first ``fail`` /predict requests with ``status``."""

    def __init__(self, app: Any, *, fail: int, status: int, headers: dict[str, str] | None = None):
        self.app = app
        self.fail = fail
        self.status = status
        self.headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        self.calls = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/predict":
            self.calls += 1
            if self.calls <= self.fail:
                body = json.dumps({"error": f"scripted {self.status}"}).encode()
                headers = [(b"content-type", b"application/json"), *self.headers]
                await send(
                    {"type": "http.response.start", "status": self.status, "headers": headers}
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


# ---------------------------------------------------------------------- the happy path
def test_labels_agree_with_local_model_and_meter_counts(
    served: tuple, data: tuple, local_logits: torch.Tensor
) -> None:
    url, app = served
    x, _ = data
    before = app.state.limiter.used.get("host:127.0.0.1", 0)
    with client(url, batch_size=100) as target:
        assert target.access == Access.SCORES
        labels = target.labels(x)
        assert torch.equal(labels, local_logits.argmax(1))
        assert target.meter.queries == len(x)
        assert target.meter.batches == 5  # ceil(450 / 100)
        assert target.requests == 5 and target.retries_used == 0
        # the server counted exactly the points sent
        assert app.state.limiter.used["host:127.0.0.1"] - before == len(x)
        probs = target.scores(x[:20])
        torch.testing.assert_close(probs, torch.softmax(local_logits[:20], 1), atol=1e-5, rtol=0)
        # logits() of a probability endpoint are log-probabilities: same argmax
        assert torch.equal(target.logits(x[:20]).argmax(1), local_logits[:20].argmax(1))


def test_from_server_reads_info(served: tuple, data: tuple, local_logits: torch.Tensor) -> None:
    url, _ = served
    with HttpClassifier.from_server(url, api_key_env=NO_KEY) as target:
        assert target.input_shape == SHAPE and target.num_classes == 10
        assert target.bounds == (0.0, 1.0) and target.returns == "probs"
        assert torch.equal(target.labels(data[0][:30]), local_logits[:30].argmax(1))


def test_pgd_needs_gradients(served: tuple, data: tuple) -> None:
    x, y = data
    with client(served[0]) as target:
        with pytest.raises(AccessError, match="needs gradients access"):
            PGD(eps=0.1, steps=2).run(target, x[:10], y[:10])
        assert target.meter.queries == 0 and target.requests == 0


def test_labels_only_server(bundle: ModelBundle, data: tuple, local_logits: torch.Tensor) -> None:
    x, _ = data
    with background_server(create_app(bundle, labels_only=True)) as url:
        with client(url, returns="labels") as target:
            assert target.access == Access.LABELS
            assert torch.equal(target.labels(x[:50]), local_logits[:50].argmax(1))
            with pytest.raises(AccessError, match="scores"):
                target.scores(x[:2])
        with client(url, returns="probs") as wrong:
            with pytest.raises(AccessError, match="returns='labels'"):
                wrong.scores(x[:2])
        with HttpClassifier.from_server(url, api_key_env=NO_KEY) as auto:
            assert auto.access == Access.LABELS


def test_server_validation_error_is_input_error(served: tuple, data: tuple) -> None:
    with client(served[0], retries=3) as target:
        with pytest.raises(InputError, match="outside the target's bounds"):
            target.labels(data[0][:3] + 2.0)  # labels() sends without a client-side check
        assert target.requests == 1  # a 4xx is never retried
        assert target.meter.queries == 0  # refused unanswered: it costs nothing


def test_client_side_budget(bundle: ModelBundle, data: tuple) -> None:
    app = create_app(bundle)
    with background_server(app) as url, client(url, batch_size=20, max_queries=30) as target:
        with pytest.raises(BudgetExhausted, match="30"):
            target.labels(data[0][:40])
        assert target.meter.queries == 20
        assert app.state.limiter.used == {"host:127.0.0.1": 20}  # the second batch never left


# ---------------------------------------------------------------------- 429 / 5xx / timeouts
def test_per_client_limit_is_budget_exhausted_without_retry(
    bundle: ModelBundle, data: tuple, sleeps: list[float]
) -> None:
    app = create_app(bundle, query_budget=50)
    with background_server(app) as url, client(url, retries=3, backoff=0.01) as target:
        target.labels(data[0][:40])
        with pytest.raises(BudgetExhausted, match="query limit"):
            target.labels(data[0][:20])
        assert target.requests == 2 and sleeps == []
        assert app.state.requests == 2
        # the remaining quota is still usable
        assert len(target.labels(data[0][:10])) == 10


def test_transient_429_honours_retry_after(
    bundle: ModelBundle, data: tuple, local_logits: torch.Tensor, sleeps: list[float]
) -> None:
    app = Scripted(create_app(bundle), fail=2, status=429, headers={"Retry-After": "0.05"})
    with background_server(app) as url, client(url, retries=3, backoff=0.01, max_backoff=1) as t:
        assert torch.equal(t.labels(data[0][:15]), local_logits[:15].argmax(1))
        assert sleeps == [0.05, 0.05]
        assert t.requests == 3 and app.calls == 3
        assert t.meter.queries == 15  # retries are transport, not extra queries


def test_retry_after_is_capped(bundle: ModelBundle, data: tuple, sleeps: list[float]) -> None:
    app = Scripted(create_app(bundle), fail=1, status=429, headers={"Retry-After": "3600"})
    with background_server(app) as url, client(url, retries=1, max_backoff=0.2) as t:
        t.labels(data[0][:3])
        assert sleeps == [0.2]


def test_5xx_retried_with_exponential_backoff(
    bundle: ModelBundle, data: tuple, local_logits: torch.Tensor, sleeps: list[float]
) -> None:
    app = Scripted(create_app(bundle), fail=2, status=503)
    with background_server(app) as url, client(url, retries=3, backoff=0.01) as t:
        assert torch.equal(t.labels(data[0][:25]), local_logits[:25].argmax(1))
        assert sleeps == pytest.approx([0.01, 0.02])
        assert t.requests == 3 and t.retries_used == 2 and app.calls == 3


def test_5xx_gives_up_after_retries(bundle: ModelBundle, data: tuple, sleeps: list[float]) -> None:
    app = Scripted(create_app(bundle), fail=100, status=500)
    with background_server(app) as url, client(url, retries=2, backoff=0.01) as t:
        with pytest.raises(TargetUnavailable, match=r"HTTP 500.*3 attempt") as err:
            t.labels(data[0][:3])
        assert url in str(err.value)
        assert app.calls == 3 and len(sleeps) == 2


def test_timeout_is_retried_then_clear_error(bundle: ModelBundle, data: tuple) -> None:
    app = create_app(bundle, delay=0.6)
    with background_server(app) as url, client(url, timeout=0.15, retries=1, backoff=0.01) as t:
        with pytest.raises(TargetUnavailable, match=r"timed out after 0.15s.*2 attempt") as err:
            t.labels(data[0][:3])
        assert isinstance(err.value, AdvlabError)
        assert f"{url}/predict" in str(err.value)
        assert t.requests == 2
    assert app.state.requests == 2


def test_connection_refused(data: tuple) -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with client(url, retries=1, backoff=0.01, timeout=2) as t:
        with pytest.raises(TargetUnavailable, match="connection failed") as err:
            t.labels(data[0][:2])
        assert url in str(err.value) and "2 attempt" in str(err.value)
        assert t.requests == 2


# ---------------------------------------------------------------------- auth and secrecy
def test_401_is_not_retried(
    bundle: ModelBundle, data: tuple, monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    monkeypatch.setenv("ADVLAB_TEST_SERVER_KEY", "right-key-123")
    monkeypatch.setenv("ADVLAB_TEST_CLIENT_KEY", "wrong-key-456")
    app = create_app(bundle, api_key_env="ADVLAB_TEST_SERVER_KEY")
    with background_server(app) as url:
        with client(url, retries=3) as anon:
            with pytest.raises(HttpAuthError, match=r"HTTP 401.*not set"):
                anon.labels(data[0][:2])
            assert anon.requests == 1
        with client(url, retries=3, api_key_env="ADVLAB_TEST_CLIENT_KEY") as wrong:
            with pytest.raises(AccessError, match=r"HTTP 401.*ADVLAB_TEST_CLIENT_KEY"):
                wrong.labels(data[0][:2])
            assert wrong.requests == 1
        with client(url, api_key_env="ADVLAB_TEST_SERVER_KEY") as good:
            assert len(good.labels(data[0][:2])) == 2
    assert sleeps == []


def test_403_is_not_retried(bundle: ModelBundle, data: tuple, sleeps: list[float]) -> None:
    app = Scripted(create_app(bundle), fail=5, status=403)
    with background_server(app) as url, client(url, retries=3) as t:
        with pytest.raises(HttpAuthError, match="HTTP 403"):
            t.labels(data[0][:2])
        assert app.calls == 1 and sleeps == []


def test_api_key_never_appears(
    bundle: ModelBundle,
    data: tuple,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "sk-very-secret-0123456789"
    monkeypatch.setenv("ADVLAB_TEST_SECRET", secret)
    monkeypatch.setattr(http_mod, "_sleep", lambda s: None)
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    texts: list[str] = []
    flaky = Scripted(create_app(bundle, api_key_env="ADVLAB_TEST_SECRET"), fail=1, status=503)
    with background_server(flaky) as url:
        with client(url, api_key_env="ADVLAB_TEST_SECRET", retries=2, backoff=0) as t:
            t.labels(data[0][:4])  # one 503, logged retry, then success
            texts += [repr(t), str(t.describe()), json.dumps(t.describe())]
            assert t.describe()["api_key"] == "***"
    monkeypatch.setenv("ADVLAB_TEST_SECRET", secret + "-wrong")
    with background_server(create_app(bundle, delay=0.5)) as url:
        with client(url, api_key_env="ADVLAB_TEST_SECRET", timeout=0.1, retries=1) as t:
            with pytest.raises(TargetUnavailable) as err:
                t.labels(data[0][:2])
            texts.append(str(err.value))
    monkeypatch.setenv("ADVLAB_TEST_SERVER_KEY", "another")
    with background_server(create_app(bundle, api_key_env="ADVLAB_TEST_SERVER_KEY")) as url:
        with client(url, api_key_env="ADVLAB_TEST_SECRET") as t:
            with pytest.raises(HttpAuthError) as auth_err:
                t.labels(data[0][:2])
            texts.append(str(auth_err.value))
    # plain http to a non-loopback host with a key: a warning, without the key
    remote = HttpClassifier(
        "http://example.invalid/predict",
        input_shape=SHAPE,
        num_classes=10,
        api_key_env="ADVLAB_TEST_SECRET",
    )
    texts.append(repr(remote))
    remote.close()
    assert "retry 1/2" in caplog.text and "plain http" in caplog.text  # logs were captured
    assert "HTTP Request" in caplog.text  # httpx's own request log was captured too
    for text in [caplog.text, *texts]:
        assert secret not in text


# ---------------------------------------------------------------------- configuration
def test_safe_url_redacts_credentials() -> None:
    out = safe_url("https://user:pw123@api.example.com:8443/v1/predict?key=abc&x=1")
    assert "pw123" not in out and "abc" not in out and "user" not in out
    assert out.startswith("https://***@api.example.com:8443/v1/predict?key=***")


def test_bad_configuration() -> None:
    with pytest.raises(ConfigError, match="returns"):
        client("http://127.0.0.1:1", returns="scores")
    with pytest.raises(ConfigError, match="http"):
        HttpClassifier("ftp://host/predict", input_shape=SHAPE, num_classes=10)
    with pytest.raises(ConfigError, match="retries"):
        client("http://127.0.0.1:1", retries=-1)
    with pytest.raises(ConfigError, match="deadline"):
        client("http://127.0.0.1:1", deadline=0)
    with pytest.raises(ConfigError, match="finite"):
        client("http://127.0.0.1:1", timeout=float("nan"))
    with pytest.raises(ConfigError, match="max_response_bytes"):
        client("http://127.0.0.1:1", max_response_bytes=0)
    with pytest.raises(ConfigError, match="ASCII"):
        client("http://127.0.0.1:1", headers={"X-Note": "caf\u00e9"})


def test_missing_httpx_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(ImportError, match=r"advlab\[http\]"):
        client("http://127.0.0.1:1")


def test_describe_is_json(served: tuple) -> None:
    with client(served[0]) as t:
        d = json.loads(json.dumps(t.describe()))
    assert d["access"] == "scores" and d["url"].endswith("/predict") and d["api_key"] is None
    assert np.asarray(d["input_shape"]).tolist() == list(SHAPE)

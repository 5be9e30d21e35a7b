"""The server's per-client quota under uvicorn: forwarded headers and client/server agreement."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import torch

from advlab.attacks.evasion import Square
from advlab.errors import BudgetExhausted
from advlab.models import ModelBundle, TrainConfig, reference_model
from advlab.serve import background_server, create_app
from advlab.targets import HttpClassifier


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return reference_model("digits", train=TrainConfig(epochs=3))


def _one_point_requests(url: str, n: int) -> int:
    point = np.full((1, 1, 8, 8), 0.5).tolist()
    answered = 0
    with httpx.Client() as c:
        for i in range(n):
            fwd = {"X-Forwarded-For": f"10.0.0.{i + 1}", "Forwarded": f"for=10.1.0.{i + 1}"}
            r = c.post(url + "/predict", json={"inputs": point}, headers=fwd)
            assert r.status_code in (200, 429)
            answered += r.status_code == 200
    return answered


def test_rotating_forwarded_for_does_not_reset_the_quota(bundle: ModelBundle) -> None:
    app = create_app(bundle, query_budget=10)
    with background_server(app) as url:
        assert _one_point_requests(url, 25) == 10
    assert app.state.limiter.used == {"host:127.0.0.1": 10}


def test_forwarded_for_is_trusted_only_from_named_proxies(bundle: ModelBundle) -> None:
    app = create_app(bundle, query_budget=10)
    with background_server(app, forwarded_allow_ips="127.0.0.1") as url:
        # behind a trusted proxy, each forwarded address is its own client
        assert _one_point_requests(url, 12) == 12
    assert len(app.state.limiter.used) == 12 and "host:10.0.0.1" in app.state.limiter.used


def test_client_and_server_count_the_same_points(bundle: ModelBundle) -> None:
    x = torch.rand(100, 1, 8, 8)
    app = create_app(bundle, query_budget=50)
    with background_server(app) as url:
        opts = {"input_shape": (1, 8, 8), "num_classes": 10, "api_key_env": None}
        with HttpClassifier(url + "/predict", batch_size=23, **opts) as t:
            with pytest.raises(BudgetExhausted, match="query limit"):
                t.labels(x)  # 23 + 23 answered, the third batch of 23 refused
            assert t.meter.queries == 46 == app.state.limiter.used["host:127.0.0.1"]
            assert t.requests == 3
    # an attack that runs into the quota reports what the server charged, no more
    app = create_app(bundle, query_budget=50)
    with background_server(app) as url:
        with HttpClassifier(url + "/predict", batch_size=16, **opts) as t:
            res = Square(eps=0.1, max_queries=100, seed=0).run(t, x[:16], t.labels(x[:16]))
        assert res.stopped_early and "query limit" in res.message
        assert res.queries + 16 == t.meter.queries == app.state.limiter.used["host:127.0.0.1"]

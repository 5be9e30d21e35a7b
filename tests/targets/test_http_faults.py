"""HttpClassifier against the fault-injection server: every fault is one clear advlab error,
a bounded wait, or a partial result marked stopped early; never a wrong number."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
import torch
from fault_server import FaultServer

import advlab.targets.http as http_mod
from advlab.attacks.evasion import Square
from advlab.errors import AdvlabError, TargetUnavailable
from advlab.targets import HttpClassifier
from advlab.targets.http import BadAnswer

SHAPE = (1, 8, 8)


@pytest.fixture()
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(http_mod, "_sleep", recorded.append)
    return recorded


@pytest.fixture(scope="module")
def points() -> torch.Tensor:
    return torch.as_tensor(
        np.random.default_rng(0).uniform(0, 1, size=(6, *SHAPE)), dtype=torch.float32
    )


def target(faults: tuple[str, FaultServer], fault: str, **kw: Any) -> HttpClassifier:
    opts: dict[str, Any] = {
        "input_shape": SHAPE,
        "num_classes": 10,
        "api_key_env": None,
        "timeout": 2.0,
        "retries": 2,
        "backoff": 0.0,
    }
    opts.update(kw)
    return HttpClassifier(f"{faults[0]}/{fault}/predict", **opts)


def test_valid_answers_match_the_reference(faults: tuple, points: torch.Tensor) -> None:
    url, app = faults
    with target(faults, "ok") as t:
        torch.testing.assert_close(
            t.scores(points), torch.as_tensor(app.probs(points.tolist()), dtype=torch.float32)
        )
    with target(faults, "labels", returns="labels") as t:
        assert t.labels(points).tolist() == app.logits(points.tolist()).argmax(1).tolist()
    with target(faults, "logits", returns="logits") as t:
        assert t.labels(points).tolist() == app.logits(points.tolist()).argmax(1).tolist()


HOSTILE = [
    ("badjson", "not JSON"),
    ("nonobject", "expected a JSON object"),
    ("deep", "nested too deeply"),
    ("nan", "NaN, inf, null"),
    ("null", "None"),
    ("string", "'0.5'"),
    ("bool", "True"),
    ("inf", "NaN, inf, null"),
    ("ragged", "row 5 must hold 10 numbers; got 9 values"),
    ("shape", "got 5 rows"),
    ("negprob", "not probabilities"),
    ("gzip-lie", "could not be decoded"),
]


@pytest.mark.parametrize(("fault", "fragment"), HOSTILE)
def test_hostile_answers_are_one_clear_error(
    faults: tuple, points: torch.Tensor, fault: str, fragment: str, no_sleep: list[float]
) -> None:
    with target(faults, fault) as t:
        with pytest.raises(BadAnswer) as err:
            t.scores(points)
        assert t.requests == 1 and no_sleep == []  # retrying cannot fix a malformed answer
    text = str(err.value)
    assert fragment in text
    assert "\n" not in text and len(text) < 400  # one line, a bounded excerpt
    assert isinstance(err.value, TargetUnavailable) and isinstance(err.value, AdvlabError)


@pytest.mark.parametrize(("fault", "fragment"), [("lab-range", "in 0..9"), ("lab-float", "1.5")])
def test_hostile_labels(faults: tuple, points: torch.Tensor, fault: str, fragment: str) -> None:
    with target(faults, fault, returns="labels") as t, pytest.raises(BadAnswer, match=fragment):
        t.labels(points)


@pytest.mark.parametrize("fault", ["huge", "gzip-bomb"])
def test_oversized_answers_are_refused(faults: tuple, points: torch.Tensor, fault: str) -> None:
    with target(faults, fault, max_response_bytes=1_000_000) as t:
        with pytest.raises(BadAnswer, match="over 1000000 bytes"):
            t.scores(points)


def test_drip_is_cut_at_the_deadline(faults: tuple, points: torch.Tensor) -> None:
    # the server sends its answer in 20 pieces 0.1 s apart (about 2 s), each read well under
    # the per-read timeout: only a total deadline ends the attempt
    with target(faults, "drip", timeout=0.5, retries=0) as t:
        t0 = time.monotonic()
        with pytest.raises(TargetUnavailable, match="0.5s deadline"):
            t.scores(points)
        elapsed = time.monotonic() - t0
    assert elapsed < 1.2
    with target(faults, "drip", timeout=0.5, deadline=5.0) as patient:
        assert patient.scores(points).shape == (6, 10)  # the dripped answer is valid


def test_hang_times_out(faults: tuple, points: torch.Tensor) -> None:
    with target(faults, "hang", timeout=0.3, retries=0) as t:
        with pytest.raises(TargetUnavailable, match="timed out after 0.3s"):
            t.scores(points)


def test_rate_limit_then_success(
    faults: tuple, points: torch.Tensor, no_sleep: list[float]
) -> None:
    _, app = faults
    with target(faults, "rate-2", retries=3, max_backoff=1.0) as t:
        assert t.scores(points).shape == (6, 10)
        assert no_sleep == [0.0, 0.0]  # Retry-After: 0 honoured
        assert t.requests == 3 and t.meter.queries == 6


def test_503_forever_gives_up(faults: tuple, points: torch.Tensor, no_sleep: list[float]) -> None:
    with target(faults, "503", retries=2) as t:
        with pytest.raises(TargetUnavailable, match=r"HTTP 503.*3 attempt"):
            t.scores(points)
        assert t.requests == 3 and len(no_sleep) == 2
        assert t.meter.queries == 6  # the server may have answered: the points stay counted
    with target(faults, "echo-401") as refused:
        with pytest.raises(AdvlabError, match="HTTP 401"):
            refused.scores(points)
        assert refused.meter.queries == 0 and refused.meter.batches == 0


def _clean(app: FaultServer, x: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(app.logits(x.tolist()).argmax(1))


@pytest.mark.parametrize(
    ("fault", "fragment"), [("down-after-6", "HTTP 503"), ("nan-after-6", "NaN")]
)
def test_mid_attack_failure_keeps_partial_result(
    faults: tuple, fault: str, fragment: str, no_sleep: list[float]
) -> None:
    url, app = faults
    x = torch.as_tensor(
        np.random.default_rng(1).uniform(0.3, 0.7, size=(8, *SHAPE)), dtype=torch.float32
    )
    y = _clean(app, x)
    app.calls[fault] = 0
    with target(faults, fault, retries=1, batch_size=8) as t:
        res = Square(eps=0.05, max_queries=40, seed=0).run(t, x, y)
    assert res.stopped_early
    assert fragment in res.message and "attacked" in res.message
    assert res.queries > 8  # the clean pass and some attack steps were answered
    assert int(res.clean_correct.sum()) == 8  # the clean predictions were kept
    assert 0.0 <= res.robust_accuracy <= 1.0

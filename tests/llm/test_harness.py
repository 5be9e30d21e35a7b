"""The harness: retries and backoff, rate limits, cache, concurrency, faults, secrets."""

from __future__ import annotations

import asyncio
import logging

import pytest
from llm_servers import start_llm_server

from advlab.errors import ConfigError
from advlab.llm import (
    CallableTarget,
    Harness,
    Journal,
    OpenAIChatTarget,
    Request,
    ResponseCache,
    SamplingParams,
    user,
)
from advlab.llm.ratelimit import RateLimiter, estimate_tokens


class Sleeps:
    """An injected sleep that records the delays asked for and does not wait."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


def reqs(n: int, prefix: str = "q") -> list[Request]:
    return [
        Request(id=f"{prefix}{i}", messages=(user(f"{prefix} question {i}"),), probe_id="t")
        for i in range(n)
    ]


def test_retry_after_is_honoured(shapes):
    url, app = shapes
    sleeps = Sleeps()
    h = Harness(OpenAIChatTarget(f"{url}/rate-2/v1", model="m"), retries=3, sleep=sleeps)
    result = h.run(reqs(1))
    assert result.completed == 1 and result.retries == 2 and result.sent == 3
    assert sleeps.delays == [0.25, 0.25]
    assert result.attempts[0].tries == 3 and result.attempts[0].text == "hello there"


def test_5xx_backs_off_exponentially_with_jitter(shapes):
    url, _ = shapes
    sleeps = Sleeps()
    h = Harness(
        OpenAIChatTarget(f"{url}/503-3/v1", model="m"),
        retries=4,
        backoff=1.0,
        jitter=0.5,
        sleep=sleeps,
    )
    result = h.run(reqs(1))
    assert result.completed == 1 and result.retries == 3
    for k, d in enumerate(sleeps.delays):
        assert 0.5 * 2**k <= d <= 2**k


def test_retries_run_out_into_a_recorded_error(shapes):
    url, _ = shapes
    sleeps = Sleeps()
    result = Harness(OpenAIChatTarget(f"{url}/503-99/v1", model="m"), retries=2, sleep=sleeps).run(
        reqs(1)
    )
    a = result.attempts[0]
    assert (
        not a.ok
        and a.tries == 3
        and a.error_kind == "server_error"
        and "HTTP 503" in (a.error or "")
    )
    assert result.errors == {"server_error": 1}


def test_no_retry_on_400_and_401_stops_the_run(shapes):
    url, app = shapes
    before = app.calls["400"]
    result = Harness(OpenAIChatTarget(f"{url}/400/v1", model="m"), sleep=Sleeps()).run(reqs(3))
    assert app.calls["400"] - before == 3 and result.retries == 0 and result.failed == 3
    before = app.calls["401"]
    result = Harness(
        OpenAIChatTarget(f"{url}/401/v1", model="m"), concurrency=1, sleep=Sleeps()
    ).run(reqs(5))
    assert app.calls["401"] - before == 1  # the first refusal stops the run
    assert result.stopped and "HTTP 401" in result.stopped
    assert len(result.attempts) == 1 and result.attempts[0].error_kind == "auth"


def test_rate_limiter_spreads_requests_without_waiting_for_real():
    clock = [0.0]
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        clock[0] += s

    async def go() -> None:
        limiter = RateLimiter(rpm=120, clock=lambda: clock[0], sleep=sleep)
        for _ in range(5):
            await limiter.acquire()

    asyncio.run(go())
    # 2 requests per second, a bucket of 2: the first 2 go at once, then one every 0.5 s
    assert sum(slept) == pytest.approx(1.5)


def test_token_limit_waits_for_tokens_and_settles_with_actual_counts():
    clock = [0.0]

    async def sleep(s: float) -> None:
        clock[0] += s

    async def go() -> float:
        limiter = RateLimiter(tpm=600, clock=lambda: clock[0], sleep=sleep)  # 10 tokens/s
        await limiter.acquire(10)
        limiter.settle(10, 30)  # the server said 30: 20 more to pay back
        await limiter.acquire(10)
        return clock[0]

    assert asyncio.run(go()) == pytest.approx(3.0)
    assert estimate_tokens(["abcdefgh", "x"], 5) == 3 + 5
    with pytest.raises(ConfigError):
        RateLimiter(rpm=0)


def test_cache_hit_sends_nothing(tmp_path, llm_server):
    url, stats = llm_server
    cache = tmp_path / "cache.sqlite"
    target = OpenAIChatTarget(url, model="level-2")
    first = Harness(target, cache=cache).run(reqs(6, "c"))
    before = stats.total
    second = Harness(OpenAIChatTarget(url, model="level-2"), cache=cache).run(reqs(6, "c"))
    assert stats.total == before  # the server saw nothing
    assert second.cache_hits == 6 and second.sent == 0
    assert [a.text for a in second.attempts] == [a.text for a in first.attempts]
    assert all(a.cached and a.tries == 0 for a in second.attempts)
    # another seed, another model or another message is another key
    other = [r.model_copy(update={"params": SamplingParams(seed=1)}) for r in reqs(2, "c")]
    third = Harness(OpenAIChatTarget(url, model="level-2"), cache=cache).run(other)
    assert third.cache_hits == 0 and stats.total == before + 2
    assert len(ResponseCache(cache)) == 8


def test_concurrency_is_bounded():
    in_flight = [0, 0]

    async def slow(messages, params):
        in_flight[0] += 1
        in_flight[1] = max(in_flight[1], in_flight[0])
        await asyncio.sleep(0.02)
        in_flight[0] -= 1
        return "ok"

    result = Harness(CallableTarget(slow), concurrency=4).run(reqs(20))
    assert result.completed == 20 and in_flight[1] == 4
    in_flight[1] = 0
    Harness(CallableTarget(slow), concurrency=1).run(reqs(5))
    assert in_flight[1] == 1


def test_attempts_keep_order_tokens_and_response_cap(llm_server):
    url, _ = llm_server
    result = Harness(
        OpenAIChatTarget(url, model="level-0"), concurrency=8, max_response_chars=10
    ).run(reqs(12, "o"))
    assert [a.request_id for a in result.attempts] == [f"o{i}" for i in range(12)]
    assert all(len(a.text) <= 10 for a in result.attempts)
    assert all(a.completion and a.completion.finish_reason == "capped" for a in result.attempts)
    assert result.prompt_tokens == sum(a.completion.prompt_tokens for a in result.attempts)
    assert result.prompt_tokens > 0 and all(a.wall_s > 0 for a in result.attempts)


def test_duplicate_request_ids_are_refused():
    with pytest.raises(ConfigError, match="unique"):
        Harness(CallableTarget(lambda m, p: "x")).run([*reqs(1), *reqs(1)])


def test_injected_faults_run_completes_with_correct_counts(tmp_path):
    from advlab.llm.server import Faults

    faults = Faults(
        rate_limit_rate=0.10, retry_after=0.0, timeout_rate=0.05, hang_s=3.0, malformed_rate=0.05
    )
    with start_llm_server(faults=faults, seed=3) as (url, stats):
        target = OpenAIChatTarget(url, model="level-0", deadline=1.0)
        requests = reqs(80, "f")
        result = Harness(target, concurrency=16, retries=8, backoff=0.01, seed=1).run(requests)
    assert result.completed == 80 and result.failed == 0
    faulted = sum(stats.faults.values())
    assert (
        stats.faults["rate_limit"] > 0
        and stats.faults["timeout"] > 0
        and stats.faults["malformed"] > 0
    )
    # every injected fault cost one retry; a request that timed out on the client before the
    # loaded server read it is retried too, so the server may have seen fewer than were sent
    assert result.sent == 80 + result.retries and result.retries >= faulted
    assert 80 + faulted <= stats.total <= result.sent
    assert set(stats.answered) == {r.messages[0].content for r in requests}
    # every answer is the app's own answer to its own question
    from advlab.llm.apps import ChatApp

    app = ChatApp.level(0, seed=3)
    assert all(a.text == app.respond(a.messages) for a in result.attempts)


def test_api_key_never_reaches_logs_journal_or_cache(tmp_path, monkeypatch, caplog, shapes):
    key = "sk-planted-SECRET-7f3a9c"
    monkeypatch.setenv("LLM_PLANTED_KEY", key)
    url, _ = shapes
    caplog.set_level(logging.DEBUG)
    journal, cache = tmp_path / "j.jsonl", tmp_path / "c.sqlite"
    for shape in ("ok", "401", "rate-1"):
        target = OpenAIChatTarget(
            f"{url}/{shape}/v1?api_key={key}", model="m", api_key_env="LLM_PLANTED_KEY"
        )
        Harness(target, journal=journal, cache=cache, sleep=Sleeps(), progress_every=0).run(
            reqs(2, shape)
        )
    text = caplog.text + journal.read_text() + cache.read_bytes().decode("latin-1")
    for wal in tmp_path.glob("c.sqlite*"):
        text += wal.read_bytes().decode("latin-1")
    assert "harness:" in caplog.text and "HTTP 401" in journal.read_text()
    assert key not in text


def test_harness_goes_through_its_rate_limiter():
    clock = [0.0]

    async def sleep(s: float) -> None:
        clock[0] += s

    limiter = RateLimiter(rpm=60, clock=lambda: clock[0], sleep=sleep)  # one a second
    result = Harness(CallableTarget(lambda m, p: "ok"), concurrency=4, rate_limiter=limiter).run(
        reqs(5)
    )
    assert result.completed == 5 and clock[0] == pytest.approx(4.0)
    tokens = RateLimiter(tpm=60, clock=lambda: clock[0], sleep=sleep)  # one token a second
    start = clock[0]
    Harness(CallableTarget(lambda m, p: "a b c"), rate_limiter=tokens).run(reqs(2, "t"))
    # the second request waits off the first one's debt: estimated 3 tokens, the answer's
    # counts (3 prompt + 3 completion) settle it at 6
    assert clock[0] - start == pytest.approx(6.0)


def test_resume_keeps_final_errors_and_resends_transient_ones(tmp_path, shapes):
    url, app = shapes
    journal = tmp_path / "j.jsonl"
    bad = [Request(id="bad", messages=(user("x"),))]
    busy = [Request(id="busy", messages=(user("y"),))]
    Harness(OpenAIChatTarget(f"{url}/list-body/v1", model="m"), journal=journal).run(bad)
    Harness(OpenAIChatTarget(f"{url}/503-99/v1", model="m"), journal=journal, retries=0).run(busy)
    records = Journal(journal).load()
    assert records["bad"].final and not records["busy"].final
    before = app.calls["list-body"], app.calls["503-99"]
    again = Harness(OpenAIChatTarget(f"{url}/list-body/v1", model="m"), journal=journal).run(bad)
    assert app.calls["list-body"] == before[0] and again.resumed == 1 and not again.attempts[0].ok
    Harness(OpenAIChatTarget(f"{url}/503-99/v1", model="m"), journal=journal, retries=0).run(busy)
    assert app.calls["503-99"] == before[1] + 1  # a transient failure is sent again
    Harness(OpenAIChatTarget(f"{url}/list-body/v1", model="m"), journal=journal).run(
        bad, retry_failed=True
    )
    assert app.calls["list-body"] == before[0] + 1

"""The instruction-tuned tiny GPT behind ``serve-llm``: chat, completions, logprobs and
logit_bias over HTTP agree with the model run locally."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from advlab.lm.chat import MAX_TOP_LOGPROBS, ChatLM, TrainedChat, chat_examples, tiny_chat_gpt
from advlab.lm.model import GPTConfig
from advlab.lm.tokenizer import ByteTokenizer
from advlab.lm.train import LMTrainConfig

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

SMALL = GPTConfig(layers=1, width=32, heads=2, context=96)


@pytest.fixture(scope="module")
def chat() -> Iterator[TrainedChat]:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tiny_chat_gpt(SMALL, LMTrainConfig(steps=80, warmup=10), n_examples=300, device="cpu")
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def served(chat: TrainedChat) -> Iterator[tuple[str, ChatLM]]:
    from advlab.llm.server import create_llm_app
    from advlab.serve import background_server

    lm = ChatLM(chat.model, chat.tokenizer)
    with background_server(create_llm_app(lm_models={"tiny-chat": lm})) as url:
        yield f"{url}/v1", lm


def _post(url: str, path: str, body: dict[str, Any]) -> Any:
    r = httpx.post(f"{url}{path}", json=body, timeout=30)
    return r


def test_chat_examples_are_seeded_and_fit_the_context() -> None:
    a, b = chat_examples(50, seed=1), chat_examples(50, seed=1)
    assert a == b and a != chat_examples(50, seed=2)
    tok = ByteTokenizer()
    longest = max(len(tok.chat(e.system, e.user) + tok.encode(e.reply, eos=True)) for e in a)
    assert longest <= SMALL.context + 1


def test_training_lowers_the_reply_loss(chat: TrainedChat) -> None:
    assert chat.info["loss_last"] < chat.info["loss_first"] / 2


def test_the_served_model_is_listed_and_chats_like_the_local_one(served: Any) -> None:
    url, lm = served
    ids = [m["id"] for m in httpx.get(f"{url}/models", timeout=10).json()["data"]]
    assert "tiny-chat" in ids and "level-0" in ids
    msgs = [{"role": "user", "content": "capital of tealland?"}]
    r = _post(url, "/chat/completions", {"model": "tiny-chat", "messages": msgs, "max_tokens": 12})
    assert r.status_code == 200
    got = r.json()["choices"][0]
    local = lm.chat_completion({"max_tokens": 12}, msgs)["choices"][0]
    assert got["message"]["content"] == local["message"]["content"]
    assert got["finish_reason"] in ("stop", "length")
    if got["finish_reason"] == "length":
        assert len(got["message"]["content"].encode()) == 12  # tokens are bytes


def test_logprobs_are_the_models_and_logit_bias_steers(served: Any) -> None:
    url, lm = served
    msgs = [{"role": "system", "content": "be brief."}, {"role": "user", "content": "hi"}]
    eos = lm.tok.eos  # banned, so that the reply has a first token
    body = {"model": "tiny-chat", "messages": msgs, "max_tokens": 3, "logprobs": True,
            "top_logprobs": 5, "logit_bias": {str(eos): -100}}  # fmt: skip
    first = _post(url, "/chat/completions", body).json()["choices"][0]["logprobs"]["content"][0]
    with torch.no_grad():
        ids = torch.tensor([lm.prompt_ids(msgs)])
        logits = lm.model(ids)[0, -1].float()
        logits[eos] -= 100
        expect = torch.log_softmax(logits, -1)
    top = first["top_logprobs"]
    assert len(top) == 5 and [t["logprob"] for t in top] == sorted(
        (t["logprob"] for t in top), reverse=True
    )
    for t in top:
        assert t["logprob"] == pytest.approx(float(expect[t["token_id"]]), abs=1e-4)
    z = ord("z")
    biased = _post(url, "/chat/completions", {**body, "logit_bias": {str(z): 100}}).json()
    assert biased["choices"][0]["message"]["content"] == "zzz"
    lp = biased["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0]
    assert lp["token_id"] == z and lp["logprob"] > -1e-3
    bad = _post(url, "/chat/completions", {**body, "logit_bias": {"999": 5}})
    assert bad.status_code == 400 and "logit_bias" in bad.json()["error"]["message"]
    many = _post(url, "/chat/completions", {**body, "top_logprobs": 50}).json()
    assert len(many["choices"][0]["logprobs"]["content"][0]["top_logprobs"]) == MAX_TOP_LOGPROBS


def test_completions_continue_the_raw_prompt(served: Any) -> None:
    url, lm = served
    body = {"model": "tiny-chat", "prompt": "the capital of ", "max_tokens": 4, "logprobs": 3}
    got = _post(url, "/completions", body).json()["choices"][0]
    assert got["text"] == lm.completion(body, "the capital of ")["choices"][0]["text"]
    assert len(got["logprobs"]["top_logprobs"][0]) == 3


def test_a_student_distilled_through_the_api_agrees_with_the_victim() -> None:
    from advlab.lm.distill import agreement, distill

    def victim(user: str) -> str:  # a victim whose behaviour a few steps can learn
        return "ok."

    users = [e.user for e in chat_examples(64, seed=5)]
    fresh = tiny_chat_gpt(SMALL, LMTrainConfig(steps=1), n_examples=8, cache=False)
    student = distill(victim, users, SMALL, LMTrainConfig(steps=80, warmup=5), cache=False)
    held = [e.user for e in chat_examples(20, seed=6)]
    assert agreement(student, victim, held) >= 0.8
    assert agreement(fresh, victim, held) < 0.5


def test_serve_llm_tiny_gpt_serves_the_chat_model(monkeypatch, chat: TrainedChat) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    from typer.testing import CliRunner

    import advlab.lm.chat as chat_module
    from advlab.cli import app

    served: list[Any] = []
    monkeypatch.setattr(chat_module, "tiny_chat_gpt", lambda **kw: chat)  # no training here
    monkeypatch.setattr(uvicorn, "run", lambda app_, **kw: served.append(app_))
    result = CliRunner().invoke(app, ["serve-llm", "--port", "8124", "--tiny-gpt"])
    assert result.exit_code == 0, result.output
    assert "tiny-gpt-chat" in result.output and len(served) == 1
    from fastapi.testclient import TestClient

    models = TestClient(served[0]).get("/v1/models").json()["data"]
    assert "tiny-gpt-chat" in {m["id"] for m in models}

"""Membership signals and training-data extraction on the tiny GPT (tiny settings)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from advlab.lm.chat import ChatLM
from advlab.lm.corpus import make_corpus
from advlab.lm.extraction import extract, generate_samples, memorised
from advlab.lm.model import GPTConfig
from advlab.lm.scores import min_k_score, score_texts, window_score, zlib_score
from advlab.lm.stealing import (
    last_logits,
    logits_from_top_logprobs,
    reachable_final_layer,
    relative_error,
    steal_final_layer,
)
from advlab.lm.train import CorpusConfig, LMTrainConfig, TrainedLM, tiny_gpt
from advlab.privacy.metrics import auc

MODEL = GPTConfig(layers=2, width=64)
TRAIN = LMTrainConfig(steps=400)


@pytest.fixture(scope="module")
def lm() -> TrainedLM:
    return tiny_gpt(MODEL, CorpusConfig(n_documents=1000), TRAIN, device="cpu")


def test_score_functions_on_hand_computed_values() -> None:
    lp = np.array([-1.0, -4.0, -0.5, -2.0, -0.1])
    assert min_k_score(lp, k=0.4) == pytest.approx((-4.0 - 2.0) / 2)
    assert window_score(lp, window=2) == pytest.approx(-2.5)
    assert window_score(lp, window=10) == pytest.approx(lp.mean())
    assert zlib_score(lp, "abc") < 0


def test_loss_separates_members_from_fresh_documents(lm: TrainedLM) -> None:
    members = [d for d in lm.corpus.documents if d.startswith("record")][:150]
    fresh = make_corpus(n_documents=1500, seed=11).documents
    non = [d for d in fresh if d.startswith("record") and d not in lm.corpus.documents][:150]
    scores = score_texts(lm.model, lm.tokenizer, members + non)
    labels = np.r_[np.ones(len(members)), np.zeros(len(non))]
    assert {"loss", "zlib", "min_k", "window", "lowercase"} <= set(scores)
    # the signal is weak on a model this small (the record-specific part, the phone number,
    # is a few tokens of each text) and moves between trainings: every score beats a coin,
    # and together they clearly do
    got = [auc(scores[k], labels) for k in ("loss", "min_k", "window")]
    assert min(got) > 0.52 and sum(got) / 3 > 0.55, got


def test_memorised_needs_a_secret_verbatim() -> None:
    secrets = ["phone 1234567", "the pin of bob is 1 2 3 4"]
    got = memorised(["x phone 1234567 y", "phone 123456", "the pin of bob is 1 2 3 4."], secrets)
    assert got.tolist() == [True, False, True]


def test_extraction_finds_the_most_repeated_canary(lm: TrainedLM) -> None:
    top = max(lm.corpus.canaries, key=lambda c: c.repeats)
    run = extract(lm.model, lm.tokenizer, lm.corpus.secrets, n=192, ks=(10, 50),
                  prompts=("the pin of ",), seed=0)  # fmt: skip
    assert any(top.text in s for s in run.samples)
    assert run.memorised.sum() >= 1
    assert run.precision["loss"][50] >= run.precision["random"][50]
    samples = generate_samples(lm.model, lm.tokenizer, 8, seed=5, length=16)
    assert samples == generate_samples(lm.model, lm.tokenizer, 8, seed=5, length=16)


def test_the_final_layer_is_stolen_from_full_logits(lm: TrainedLM) -> None:
    model = lm.model.double()
    try:
        gen = torch.Generator().manual_seed(0)
        prompts = torch.randint(32, 127, (200, 10), generator=gen)
        stolen = steal_final_layer(last_logits(model, prompts))
        h = model.cfg.width
        assert stolen.hidden_dim == h - 1  # the final LayerNorm centres: one dimension less
        assert relative_error(stolen.basis, reachable_final_layer(model)) < 1e-4
        # too few queries cannot reveal the dimension: the spectrum has no drop
        few = steal_final_layer(last_logits(model, prompts[: h // 2]))
        assert few.hidden_dim < h - 1
    finally:
        model.float()


def test_the_logit_bias_attack_rebuilds_full_logits_from_top_k(lm: TrainedLM) -> None:
    chat = ChatLM(lm.model, lm.tokenizer)
    calls = []

    def api(prompt: str, bias: dict[int, float]) -> dict[int, float]:
        calls.append(bias)
        body = {"max_tokens": 1, "logprobs": 5, "logit_bias": {str(k): v for k, v in bias.items()}}
        top = chat.completion(body, prompt)["choices"][0]["logprobs"]["top_logprobs"][0]
        return {int(k): v for k, v in top.items()}

    prompts = ["the capital of ", "record: name "]
    got = logits_from_top_logprobs(api, prompts, vocab=262, top=5)
    assert got.queries == len(calls) == 2 * math.ceil(261 / 4)
    with torch.no_grad():
        for row, p in zip(got.logits, prompts, strict=True):
            z = lm.model(torch.tensor([lm.tokenizer.encode(p, bos=True)]))[0, -1].double()
            np.testing.assert_allclose(row, (z - z[0]).numpy(), atol=1e-3)
    with pytest.raises(ValueError, match="top 2"):
        logits_from_top_logprobs(api, prompts, vocab=262, top=1)
    some = [0, 5, 97, 200, 100]  # a chosen subset, in a chosen order
    part = logits_from_top_logprobs(api, prompts[:1], vocab=262, top=3, tokens=some)
    assert part.queries == 2 and part.logits.shape == (1, 5)
    np.testing.assert_allclose(part.logits[0], got.logits[0, some], atol=1e-3)
    with pytest.raises(ValueError, match="reference"):
        logits_from_top_logprobs(api, prompts, vocab=262, top=3, tokens=[1, 2])


def test_float64_log_probabilities_carry_the_logits_exactly(lm: TrainedLM) -> None:
    prompts = ["the capital of ", "record: name ", "def "]
    with torch.no_grad():
        ids = [torch.tensor([lm.tokenizer.encode(p, bos=True)]) for p in prompts]
        z = torch.stack([lm.model(i)[0, -1].double() for i in ids])
    cols = [i for i in range(262) if i != lm.tokenizer.eos]  # <eos> would end the reply
    want = (z - z[:, :1]).numpy()[:, cols]
    errors = {}
    for precision in ("float32", "float64"):
        chat = ChatLM(lm.model, lm.tokenizer, precision=precision)

        def api(prompt: str, bias: dict[int, float], chat: ChatLM = chat) -> dict[int, float]:
            body = {"max_tokens": 1, "logprobs": 20, "logit_bias": {str(k): v for k, v in bias.items()}}  # fmt: skip
            top = chat.completion(body, prompt)["choices"][0]["logprobs"]["top_logprobs"][0]
            return {int(k): v for k, v in top.items()}

        got = logits_from_top_logprobs(api, prompts, vocab=262, top=20, tokens=cols)
        errors[precision] = float(np.abs(got.logits - want).max())
    # a +100 bias in float32 rounds each logit to the float32 spacing at 100 (7.6e-6)
    assert errors["float64"] < 1e-9 < 1e-7 < errors["float32"] < 1e-3, errors
    with pytest.raises(ValueError, match="precision"):
        ChatLM(lm.model, lm.tokenizer, precision="half")


def test_a_layer_recovered_on_some_tokens_is_compared_up_to_the_softmax_shift(
    lm: TrainedLM,
) -> None:
    model = lm.model.double()
    try:
        prompts = torch.randint(32, 127, (120, 10), generator=torch.Generator().manual_seed(1))
        z = last_logits(model, prompts).numpy()
        cols = [i for i in range(262) if i != lm.tokenizer.eos]  # what the logit-bias attack sees
        rows = z[:, cols] - z[:, :1]  # each row up to its own constant
        stolen = steal_final_layer(rows)
        ref = reachable_final_layer(model)[cols]
        assert relative_error(stolen.basis, ref) < 1e-8
        # a vector added to every row of the reference changes nothing...
        assert relative_error(stolen.basis, ref + ref[0]) < 1e-8
        # ...but a wrong subspace shows
        noise = np.random.default_rng(0).normal(size=stolen.basis.shape)
        assert relative_error(np.linalg.qr(noise)[0], ref) > 0.5
    finally:
        model.float()

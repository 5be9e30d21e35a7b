"""The tiny GPT, canary exposure and GCG on a tiny configuration (trained once, cached)."""

from __future__ import annotations

import math

import pytest
import torch

from advlab.lm.corpus import Canary, format_secret, make_corpus
from advlab.lm.exposure import exposure
from advlab.lm.gcg import Prompt, forced, gcg, random_search, target_loss, token_gradient
from advlab.lm.model import GPTConfig, TinyGPT
from advlab.lm.tokenizer import ByteTokenizer
from advlab.lm.train import CorpusConfig, LMTrainConfig, TrainedLM, tiny_gpt

TINY = (GPTConfig(layers=2, width=64), CorpusConfig(n_documents=1000), LMTrainConfig(steps=400))


@pytest.fixture(scope="module")
def lm() -> TrainedLM:
    return tiny_gpt(*TINY, device="cpu")


def test_tokenizer_round_trip_and_chat_template() -> None:
    tok = ByteTokenizer()
    text = "pin: 4 8 1 9 — ok"
    assert tok.decode(tok.encode(text, bos=True, eos=True)) == text
    ids = tok.chat("be brief", "hi")
    assert ids[0] == tok.bos and ids[-1] == tok.special["<assistant>"]
    assert tok.decode(ids) == "be briefhi"


def test_ids_and_embeddings_give_the_same_logits() -> None:
    torch.manual_seed(0)
    m = TinyGPT(GPTConfig(layers=1, width=32, heads=2, context=16))
    ids = torch.randint(0, 262, (2, 10))
    torch.testing.assert_close(m(ids), m(embeds=m.embed(ids)))
    with pytest.raises(ValueError, match="longer than the context"):
        m(torch.zeros(1, 17, dtype=torch.long))


def test_corpus_is_seeded_and_plants_each_canary_its_number_of_times() -> None:
    a, b = make_corpus(seed=3), make_corpus(seed=3)
    assert a.documents == b.documents and a.canaries == b.canaries
    assert make_corpus(seed=4).documents != a.documents
    for c in a.canaries:
        assert a.documents.count(c.text + ".") == c.repeats
    assert len({c.prefix for c in a.canaries}) == len(a.canaries)


def test_training_learns_and_the_cache_reloads_the_same_model(lm: TrainedLM) -> None:
    assert lm.info["loss_last"] < lm.info["loss_first"] / 3
    again = tiny_gpt(*TINY, device="cpu")
    assert again.info["cached"] is True
    ids = torch.tensor([lm.tokenizer.encode("the capital of ", bos=True)])
    torch.testing.assert_close(again.model(ids), lm.model(ids))


def test_exposure_grows_with_repetitions(lm: TrainedLM) -> None:
    by_reps = {c.repeats: c for c in lm.corpus.canaries}
    top = exposure(lm.model, lm.tokenizer, by_reps[64])
    once = exposure(lm.model, lm.tokenizer, by_reps[1])
    assert top.method == "exact" and top.max_exposure == pytest.approx(math.log2(10**4))
    assert top.exposure >= 0.9 * top.max_exposure  # memorised: ranks (nearly) first
    assert once.exposure < top.exposure - 3
    # a secret that was never planted is not exposed
    other = (int(by_reps[64].secret.replace(" ", "")) + 5000) % 10**4
    fresh = Canary(prefix=by_reps[64].prefix, secret=format_secret(other, 4), repeats=0, digits=4)
    assert exposure(lm.model, lm.tokenizer, fresh).exposure < 0.5 * top.max_exposure


def test_the_skew_normal_estimate_agrees_with_exact_enumeration(lm: TrainedLM) -> None:
    mid = next(c for c in lm.corpus.canaries if c.repeats == 16)
    exact = exposure(lm.model, lm.tokenizer, mid, method="exact")
    est = exposure(lm.model, lm.tokenizer, mid, method="skew-normal", samples=2000)
    assert est.method == "skew-normal"
    assert abs(est.exposure - exact.exposure) < 2.5


def _prompt(tok: ByteTokenizer, target: str) -> Prompt:
    return Prompt(tok.encode("the capital of ", bos=True), tok.encode(" is "), tok.encode(target))


def test_the_one_hot_gradient_is_the_embedding_gradient_times_the_table(lm: TrainedLM) -> None:
    tok, model = lm.tokenizer, lm.model
    p = _prompt(tok, "lima")
    suffix = torch.tensor(tok.encode("x!q~ 7;a"))
    grad = token_gradient(model, [p], suffix)
    emb = model.embed(suffix).detach().requires_grad_(True)
    ids = [p.before, p.after + p.target]
    full = torch.cat([model.embed(torch.tensor(ids[0])), emb, model.embed(torch.tensor(ids[1]))])
    n = full.shape[0]
    logits = model(embeds=full[None, :-1])[0, n - len(p.target) - 1 :]
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(p.target))
    (d_emb,) = torch.autograd.grad(loss, emb)
    torch.testing.assert_close(grad, d_emb @ model.tok.weight.T.detach())
    # the linearisation ranks swaps: over all positions, the predicted-best swaps leave a
    # lower loss than the predicted-worst ones (a first-order prediction: single positions
    # may go the other way on a given model, so the claim is about the average)
    allowed = torch.arange(32, 127)
    swapped = suffix.repeat(2 * len(suffix), 1)
    for pos in range(len(suffix)):
        swapped[2 * pos, pos] = allowed[grad[pos, allowed].argmin()]
        swapped[2 * pos + 1, pos] = allowed[grad[pos, allowed].argmax()]
    with torch.no_grad():
        got = target_loss(model, p, swapped).view(-1, 2)
    assert got[:, 0].mean() < got[:, 1].mean(), got


def test_gcg_forces_reachable_targets_and_greedy_decoding_agrees(lm: TrainedLM) -> None:
    tok = lm.tokenizer
    forced_any = []
    for target in ("lima", "riga", "paris", "oslo"):
        p = _prompt(tok, target)
        res = gcg(lm.model, [p], steps=25, batch=64, suffix_length=6)
        assert 1 < res.forward_passes <= 1 + res.steps * (2 + 64)
        assert res.forward_at_step[-1] == res.forward_passes
        assert len(res.losses) == res.steps + 1
        # keep-best: the loss never rises, except to the first candidate that forces the target
        kept = res.losses[:-1] if res.success else res.losses
        assert all(b <= a for a, b in zip(kept, kept[1:], strict=False))
        assert all(32 <= t < 127 for t in res.suffix)  # printable by default
        assert res.success == forced(lm.model, p, torch.tensor(res.suffix))
        if res.success:
            assert res.steps_to_success == res.steps  # stops at the first forcing candidate
            out = lm.model.generate(p.before + res.suffix + p.after, len(p.target))
            assert out == p.target  # greedy decoding says the target
            forced_any.append(target)
    assert len(forced_any) >= 2, forced_any


def test_universal_suffix_lowers_the_loss_on_every_prompt(lm: TrainedLM) -> None:
    tok = lm.tokenizer
    after = tok.encode(" is ")
    prompts = [
        Prompt(tok.encode(stem, bos=True), after, tok.encode("lima"))
        for stem in ("the capital of ", "the city of ")
    ]
    start = torch.full((6,), ord("!"))
    with torch.no_grad():
        before = [float(target_loss(lm.model, p, start[None])[0]) for p in prompts]
        res = gcg(lm.model, prompts, steps=20, batch=64, suffix_length=6)
        found = torch.tensor([res.suffix])
        after_loss = [float(target_loss(lm.model, p, found)[0]) for p in prompts]
    assert res.forward_passes <= 2 + res.steps * 2 * (2 + 64)
    assert all(a < 0.5 * b for a, b in zip(after_loss, before, strict=True)), (before, after_loss)
    assert res.success == all(forced(lm.model, p, torch.tensor(res.suffix)) for p in prompts)


def test_random_search_only_keeps_improvements_and_respects_the_budget(lm: TrainedLM) -> None:
    p = _prompt(lm.tokenizer, "42 of them")
    res = random_search(lm.model, [p], steps=50, batch=32, suffix_length=6, max_forward=500)
    assert all(b <= a for a, b in zip(res.losses, res.losses[1:], strict=False))
    assert res.forward_passes >= 500 and res.forward_passes < 500 + 32
    with pytest.raises(ValueError, match="positive"):
        random_search(lm.model, [p], steps=0)

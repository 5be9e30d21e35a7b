"""De-duplication and DP-SGD on the tiny GPT (mechanics on tiny settings; the exposure curves
are measured in benchmarks/lm_exposure.py)."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import pytest
import torch

from advlab.lm.corpus import deduplicate, make_corpus
from advlab.lm.dp import DPConfig, dp_train, held_out_loss, per_sample_grads, windows
from advlab.lm.exposure import exposure
from advlab.lm.model import GPTConfig, TinyGPT
from advlab.lm.train import TINY, CorpusConfig, tiny_gpt

SMALL = GPTConfig(layers=1, width=32, heads=2, context=16)


def test_dedup_keeps_one_copy_of_every_document_in_order() -> None:
    assert deduplicate(["a", "b", "a", "c", "b"]) == ["a", "b", "c"]
    full, dd = make_corpus(n_documents=500), make_corpus(n_documents=500, dedup=True)
    assert len(set(dd.documents)) == len(dd.documents) < len(full.documents)
    assert set(dd.documents) == set(full.documents)
    for c in dd.canaries:
        assert full.documents.count(c.text + ".") == c.repeats
        assert dd.documents.count(c.text + ".") == 1
    # the option names a different recipe; without it the cache key is what it always was
    assert "dedup" not in CorpusConfig().key() and CorpusConfig(dedup=True).key()["dedup"]


def test_per_sample_gradients_match_one_backward_per_example() -> None:
    torch.manual_seed(0)
    model = TinyGPT(SMALL)
    x, y = torch.randint(0, 262, (3, 16)), torch.randint(0, 262, (3, 16))
    grads, losses = per_sample_grads(model, x, y)
    for i in range(3):
        model.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[i : i + 1])[0], y[i])
        loss.backward()
        assert float(losses[i]) == pytest.approx(loss.item(), abs=1e-5)
        for name, p in model.named_parameters():  # the tied embedding's two uses included
            assert p.grad is not None
            torch.testing.assert_close(grads[name][i], p.grad, atol=1e-6, rtol=1e-4)


def test_windows_cut_the_stream_without_overlap() -> None:
    w = windows(torch.arange(50), 16)
    assert w.shape == (3, 17) and w[1, 0] == 16 and w[2, -1] == 48
    with pytest.raises(ValueError, match="no window"):
        windows(torch.arange(10), 16)


@pytest.mark.parametrize("eps", [1.0, 8.0])
def test_dp_sgd_spends_at_most_the_target_epsilon(eps: float) -> None:
    pytest.importorskip("opacus", reason="the privacy extra is not installed")
    torch.manual_seed(0)
    model = TinyGPT(SMALL)
    before = [p.detach().clone() for p in model.parameters()]
    data = torch.randint(0, 262, (1700,))
    cfg = DPConfig(epsilon=eps, steps=10, batch_size=20, delta=1e-4)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Optimal order")
        info = dp_train(model, data, cfg, device=torch.device("cpu"))
    assert info["examples"] == 106 and info["sample_rate"] == pytest.approx(20 / 106)
    assert info["noise_multiplier"] > 0
    # the accountant's epsilon stays under the target and the noise is not wastefully large
    assert 0.8 * eps < info["epsilon"] <= eps
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    assert math.isfinite(held_out_loss(model, data))


def test_no_noise_at_infinite_epsilon_and_bad_settings_are_refused() -> None:
    pytest.importorskip("opacus", reason="the privacy extra is not installed")
    torch.manual_seed(0)
    data = torch.randint(0, 262, (900,))
    a, b = TinyGPT(SMALL), TinyGPT(SMALL)
    b.load_state_dict(a.state_dict())
    cfg = DPConfig(epsilon=math.inf, steps=3, batch_size=16)
    info = dp_train(a, data, cfg, device=torch.device("cpu"))
    assert info["noise_multiplier"] == 0 and info["epsilon"] == math.inf
    dp_train(b, data, cfg, device=torch.device("cpu"))  # same seed: same run
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    with pytest.raises(ValueError, match="positive"):
        dp_train(a, data, replace(cfg, epsilon=0.0), device=torch.device("cpu"))


def test_dedup_brings_the_64x_canary_down_to_a_rare_canarys_exposure() -> None:
    model_cfg, corpus_cfg, train_cfg = TINY
    dd = tiny_gpt(model_cfg, replace(corpus_cfg, dedup=True), train_cfg, device="cpu")
    top = max(dd.corpus.canaries, key=lambda c: c.repeats)
    assert top.repeats == 64
    e_top = exposure(dd.model, dd.tokenizer, top).exposure
    # without de-duplication the 64x canary ranks first (test_tiny_gpt: >= 0.9 log2 |R|);
    # seen once, it is far from the maximum (benchmarks/lm_exposure.py: the 1x canaries' level)
    assert e_top < 0.5 * math.log2(top.space), e_top

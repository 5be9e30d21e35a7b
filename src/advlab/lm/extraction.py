"""Training-data extraction from a language model (Carlini et al. 2021, "Extracting Training
Data from Large Language Models", USENIX Security, arXiv:2012.07805).

Generate many samples (top-k sampling; optionally a temperature that decays from high to 1
over the first tokens; optionally conditioned on prompts), rank them by a membership score
(:mod:`advlab.lm.scores`), and count how many of the top ``k`` are memorised: a sample is
memorised when it contains verbatim one of the training set's high-entropy strings (phone
numbers, canaries: ``Corpus.secrets``), which chance cannot produce; fluent text recombined
from templates does not count. The baseline is the same precision over ``k`` random samples.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from advlab.lm.model import TinyGPT
from advlab.lm.scores import score_texts
from advlab.lm.tokenizer import ByteTokenizer

log = logging.getLogger(__name__)


@dataclass
class ExtractionRun:
    samples: list[str]
    scores: dict[str, np.ndarray]
    memorised: np.ndarray
    precision: dict[str, dict[int, float]] = field(default_factory=dict)


def generate_samples(
    model: TinyGPT,
    tok: ByteTokenizer,
    n: int,
    *,
    length: int = 48,
    top_k: int = 40,
    temperature: float = 1.0,
    decay_from: float | None = None,
    decay_tokens: int = 10,
    prompts: Sequence[str] = ("",),
    seed: int = 0,
) -> list[str]:
    """``n`` samples, batched; ``decay_from`` starts the temperature there and decays it
    linearly to ``temperature`` over ``decay_tokens`` tokens."""
    dev = model.tok.weight.device
    gen = torch.Generator(device="cpu").manual_seed(seed)
    out: list[str] = []
    batch = 64
    with torch.no_grad():
        for i in range(0, n, batch):
            b = min(batch, n - i)
            prompt = prompts[(i // batch) % len(prompts)]
            ids = torch.tensor([tok.encode(prompt, bos=True)] * b, device=dev)
            for t in range(length):
                temp = temperature
                if decay_from is not None and t < decay_tokens:
                    temp = decay_from + (temperature - decay_from) * t / decay_tokens
                logits = model(ids[:, -model.cfg.context :])[:, -1].float() / temp
                kth = logits.topk(top_k, -1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
                nxt = torch.multinomial(torch.softmax(logits, -1).cpu(), 1, generator=gen).to(dev)
                ids = torch.cat([ids, nxt], 1)
            for row in ids.tolist():
                text = tok.decode(row[1:])
                out.append(text.split("\n")[0])
    return out


def memorised(samples: Sequence[str], secrets: Sequence[str]) -> np.ndarray:
    """Whether each sample contains one of ``secrets`` verbatim."""
    return np.array([any(sec in s for sec in secrets) for s in samples], dtype=bool)


def extract(
    model: TinyGPT,
    tok: ByteTokenizer,
    secrets: Sequence[str],
    *,
    n: int = 1000,
    ks: Sequence[int] = (10, 100),
    reference: TinyGPT | None = None,
    seed: int = 0,
    **generation: object,
) -> ExtractionRun:
    """Generate, score, rank; precision at each ``k`` per score and for random samples."""
    samples = sorted(set(generate_samples(model, tok, n, seed=seed, **generation)))  # type: ignore[arg-type]
    scores = score_texts(model, tok, samples, reference=reference)
    mem = memorised(samples, secrets)
    rng = np.random.default_rng(seed)
    prec: dict[str, dict[int, float]] = {}
    for name, s in scores.items():
        order = np.argsort(-s, kind="stable")
        prec[name] = {k: float(mem[order[:k]].mean()) for k in ks if k <= len(samples)}
    prec["random"] = {
        k: float(np.mean([mem[rng.permutation(len(samples))[:k]].mean() for _ in range(20)]))
        for k in ks
        if k <= len(samples)
    }
    log.info("extraction: %d unique samples, %d memorised", len(samples), int(mem.sum()))
    return ExtractionRun(samples, scores, mem, prec)

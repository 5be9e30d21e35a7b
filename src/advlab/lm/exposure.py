"""Canary exposure (Carlini et al. 2019, "The Secret Sharer", USENIX Security,
arXiv:1802.08232).

``exposure = log2 |R| - log2 rank``, where ``rank`` is the position of the true secret among
all ``|R|`` candidates of its space ordered by the model's log-perplexity of
``prefix + candidate``. A memorised canary ranks first (exposure ``log2 |R|``); a canary the
model never saw sits mid-table (exposure about 1). Small spaces are enumerated exactly; large
ones use the paper's estimate: fit a skew-normal distribution to the log-perplexities of
sampled candidates and read the true secret's quantile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from advlab.lm.corpus import Canary, format_secret
from advlab.lm.model import TinyGPT, sequence_logprob
from advlab.lm.tokenizer import ByteTokenizer

EXACT_LIMIT = 100_000
"""Spaces up to this size are enumerated exactly."""


@dataclass(frozen=True)
class Exposure:
    canary: str
    repeats: int
    space: int
    rank: float
    exposure: float
    method: str  # "exact" | "skew-normal"

    @property
    def max_exposure(self) -> float:
        return math.log2(self.space)


def _logprobs(
    model: TinyGPT, tok: ByteTokenizer, prefix: str, values: np.ndarray, digits: int, batch: int
) -> np.ndarray:
    dev = model.tok.weight.device
    pre = torch.tensor(tok.encode(prefix, bos=True), device=dev)
    out = []
    with torch.no_grad():
        for i in range(0, len(values), batch):
            chunk = values[i : i + batch]
            tgt = torch.tensor(
                [tok.encode(format_secret(int(v), digits)) for v in chunk], device=dev
            )
            out.append(sequence_logprob(model, pre.expand(len(chunk), -1), tgt).cpu().numpy())
    return np.concatenate(out)


def exposure(
    model: TinyGPT,
    tok: ByteTokenizer,
    canary: Canary,
    *,
    samples: int = 5000,
    batch: int = 1024,
    seed: int = 0,
    method: str = "auto",
) -> Exposure:
    """Exposure of one canary: ``exact`` enumeration, the ``skew-normal`` estimate from
    ``samples`` random candidates, or ``auto`` (exact when ``|R| <= EXACT_LIMIT``)."""
    if method not in ("auto", "exact", "skew-normal"):
        raise ValueError(f"method must be auto, exact or skew-normal, got {method!r}")
    space = canary.space
    true_value = int(canary.secret.replace(" ", ""))
    true_lp = _logprobs(model, tok, canary.prefix, np.array([true_value]), canary.digits, 1)[0]
    if method == "exact" or (method == "auto" and space <= EXACT_LIMIT):
        lp = _logprobs(model, tok, canary.prefix, np.arange(space), canary.digits, batch)
        rank = 1.0 + float((lp > true_lp).sum())  # ties count in the secret's favour
        return Exposure(
            canary.text, canary.repeats, space, rank, math.log2(space) - math.log2(rank), "exact"
        )
    from scipy import stats

    rng = np.random.default_rng(seed)
    lp = _logprobs(model, tok, canary.prefix, rng.integers(0, space, samples), canary.digits, batch)
    params = stats.skewnorm.fit(-lp)  # log-perplexity of random candidates
    below = float(stats.skewnorm.cdf(-true_lp, *params))  # fraction ranked better than the secret
    exp = -math.log2(max(below, 1.0 / space))
    rank = max(1.0, below * space)
    return Exposure(canary.text, canary.repeats, space, rank, exp, "skew-normal")

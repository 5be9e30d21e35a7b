"""Per-text scores a language model gives away: token log-probabilities, perplexity, zlib
entropy, Min-K% probability and reference-model ratios.

These are the membership and memorisation signals of Carlini et al. 2021 ("Extracting
Training Data from Large Language Models", USENIX Security, arXiv:2012.07805: perplexity,
zlib ratio, reference-model ratio, lower-case ratio, minimum sliding-window perplexity) and
Shi et al. 2024 ("Detecting Pretraining Data from Large Language Models", ICLR,
arXiv:2310.16789: Min-K% Prob). Higher score = more likely a member / memorised.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np
import torch

from advlab.lm.model import TinyGPT
from advlab.lm.tokenizer import ByteTokenizer


def token_logprobs(
    model: TinyGPT, tok: ByteTokenizer, texts: Sequence[str], *, batch: int = 64
) -> list[np.ndarray]:
    """Log-probability of every token of each text after ``<bos>`` (one array per text)."""
    dev = model.tok.weight.device
    ctx = model.cfg.context
    out: list[np.ndarray] = []
    encoded = [tok.encode(t, bos=True)[:ctx] for t in texts]
    with torch.no_grad():
        for i in range(0, len(encoded), batch):
            chunk = encoded[i : i + batch]
            width = max(len(e) for e in chunk)
            ids = torch.full((len(chunk), width), tok.pad, dtype=torch.long, device=dev)
            for j, e in enumerate(chunk):
                ids[j, : len(e)] = torch.tensor(e, device=dev)
            logp = torch.log_softmax(model(ids[:, :-1]).float(), -1)
            got = logp.gather(2, ids[:, 1:].unsqueeze(2)).squeeze(2).cpu().numpy()
            out.extend(got[j, : len(e) - 1] for j, e in enumerate(chunk))
    return out


def perplexity_score(lp: np.ndarray) -> float:
    """Mean token log-probability (= -log perplexity)."""
    return float(lp.mean())


def zlib_score(lp: np.ndarray, text: str) -> float:
    """Log-likelihood per zlib-compressed bit: memorised text is likely yet incompressible."""
    return float(lp.sum()) / (8.0 * len(zlib.compress(text.encode("utf-8"))))


def min_k_score(lp: np.ndarray, k: float = 0.2) -> float:
    """Min-K% Prob: mean of the lowest ``k`` fraction of token log-probabilities."""
    n = max(1, math.ceil(k * len(lp)))
    return float(np.sort(lp)[:n].mean())


def window_score(lp: np.ndarray, window: int = 16) -> float:
    """Minimum mean log-probability over sliding windows (penalises any unlikely stretch)."""
    if len(lp) <= window:
        return float(lp.mean())
    c = np.concatenate([[0.0], np.cumsum(lp)])
    return float(((c[window:] - c[:-window]) / window).min())


def score_texts(
    model: TinyGPT,
    tok: ByteTokenizer,
    texts: Sequence[str],
    *,
    reference: TinyGPT | None = None,
) -> dict[str, np.ndarray]:
    """Every score for every text: ``loss``, ``zlib``, ``min_k``, ``window``, ``lowercase``
    and, with a reference model, ``reference`` (target minus reference log-likelihood)."""
    lps = token_logprobs(model, tok, texts)
    low = token_logprobs(model, tok, [t.lower() for t in texts])
    out = {
        "loss": np.array([perplexity_score(lp) for lp in lps]),
        "zlib": np.array([zlib_score(lp, t) for lp, t in zip(lps, texts, strict=True)]),
        "min_k": np.array([min_k_score(lp) for lp in lps]),
        "window": np.array([window_score(lp) for lp in lps]),
        "lowercase": np.array([a.mean() - b.mean() for a, b in zip(lps, low, strict=True)]),
    }
    if reference is not None:
        ref = token_logprobs(reference, tok, texts)
        out["reference"] = np.array([a.mean() - b.mean() for a, b in zip(lps, ref, strict=True)])
    return out

"""Stealing the last layer of a language model from its full logit vectors (Carlini et al.
2024, "Stealing Part of a Production Language Model", ICML, arXiv:2403.06634).

The logits a model returns are ``W @ LN(h)``: every logit vector lies in the span of the
final layer's columns, so the singular values of a stack of (double-centred) logit vectors
drop to zero after the hidden dimension, and the right singular vectors recover ``W`` up to an
invertible linear map (:func:`advlab.attacks.extraction.logit_svd.logit_svd`).

How normalisation and biases show: a final LayerNorm centres ``h`` across its features, so
``LN(h)`` lives in a hyperplane of dimension ``h - 1`` (shifted by the LayerNorm bias, which
like any output bias is a constant that centring over queries removes). On double-centred
logits the rank is therefore ``h - 1`` for a GPT with a final LayerNorm (advlab's tiny GPT,
GPT-2), ``h`` for RMSNorm models (no centring), and a bias that is not removed by centring
would add one (``h + 1``).

Through an API that returns only the top-K log-probabilities but accepts ``logit_bias``,
:func:`logits_from_top_logprobs` rebuilds each full logit vector (up to a constant, which
the centring removes) in ``ceil((V - 1) / (K - 1))`` queries -- the paper's logit-bias
attack; the SVD then runs on those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from advlab.attacks.extraction.logit_svd import logit_svd
from advlab.lm.model import TinyGPT


@dataclass
class StolenLayer:
    hidden_dim: int
    basis: np.ndarray  # (vocab, hidden_dim): spans the final layer's reachable column space
    queries: int


def last_logits(model: TinyGPT, prompts: torch.Tensor) -> torch.Tensor:
    """The full next-token logit vector after each prompt row (what an API with full logits
    returns), in float64."""
    with torch.no_grad():
        return model(prompts)[:, -1].double()


def steal_final_layer(logits: torch.Tensor | np.ndarray) -> StolenLayer:
    """Hidden dimension and a basis of the final layer's column space from ``(n, vocab)``."""
    fit = logit_svd(logits)
    return StolenLayer(fit.hidden_dim, np.asarray(fit.basis), int(np.shape(logits)[0]))


def reachable_final_layer(model: TinyGPT) -> np.ndarray:
    """The experimenter's reference: the row-centred tied output matrix restricted to the
    hyperplane the final LayerNorm's output lives in, ``(vocab, h - 1)``."""
    w = model.tok.weight.detach().double().cpu().numpy()  # (vocab, h)
    g = model.ln.weight.detach().double().cpu().numpy()  # LN(h) = g * centred(h) + b
    w = w - w.mean(0, keepdims=True)
    # directions of g * z with sum(z) == 0: an orthonormal basis of {v : sum(v / g) == 0}
    normal = 1.0 / g
    q, _ = np.linalg.qr(np.column_stack([normal, np.eye(len(g))]))
    plane = q[:, 1 : len(g)]
    return np.asarray(w @ plane)


def relative_error(basis: np.ndarray, reference: np.ndarray) -> float:
    """``min_G ||R - basis @ G|| / ||R||`` with ``R`` the ``reference`` centred over its rows
    (the error up to a linear map).

    Centring: adding one vector ``c`` to every row of the layer shifts every logit by the same
    ``c . h``, which no softmax output (nor the centred logits the SVD sees) can show, so the
    layer is only defined up to it. A reference centred over the whole vocabulary and then
    restricted to the tokens an attack recovered (the logit-bias attack leaves ``<eos>`` out)
    still carries that vector -- a systematic error (about 1e-2 on the tiny chat model)
    that no number of queries or float precision removes.
    """
    reference = reference - reference.mean(0, keepdims=True)
    g, *_ = np.linalg.lstsq(basis, reference, rcond=None)
    return float(np.linalg.norm(reference - basis @ g) / np.linalg.norm(reference))


TopLogprobs = Callable[[str, dict[int, float]], dict[int, float]]
"""An API call: ``(prompt, logit_bias) -> {token id: log-probability}`` of the top tokens
of the first generated position (what ``logprobs=K`` with ``logit_bias`` returns)."""


@dataclass
class BiasedLogits:
    logits: np.ndarray  # (n_prompts, vocab): each row up to its own additive constant
    queries: int


def logits_from_top_logprobs(
    api: TopLogprobs,
    prompts: Sequence[str],
    *,
    vocab: int,
    top: int,
    bias: float = 100.0,
    reference: int = 0,
    tokens: Sequence[int] | None = None,
) -> BiasedLogits:
    """Full logit vectors through an API that returns only the ``top`` log-probabilities,
    with ``logit_bias`` (Carlini et al. 2024, section 5, the logit-bias attack).

    Per prompt, the vocabulary (without a ``reference`` token) is cut into groups of
    ``top - 1``; one query biases a group and the reference by ``bias``, which lifts them
    all into the top ``top`` (``bias`` must exceed the spread of the logits). A common bias
    cancels in differences, so ``logprob_i - logprob_ref = z_i - z_ref``: the logit vector
    up to a constant, in ``ceil((vocab - 1) / (top - 1))`` queries per prompt.

    ``tokens`` (default: the whole vocabulary) are the columns recovered, in that order; leave
    out tokens the API cannot report (an end token ends the reply before its log-probability
    is returned), the layer is recovered on the rest.
    """
    if top < 2:
        raise ValueError("the logit-bias attack needs at least the top 2 log-probabilities")
    cols = list(range(vocab)) if tokens is None else list(tokens)
    if reference not in cols:
        raise ValueError(f"the reference token {reference} must be among the tokens recovered")
    where = {t: j for j, t in enumerate(cols)}
    others = [i for i in cols if i != reference]
    groups = [others[i : i + top - 1] for i in range(0, len(others), top - 1)]
    rows = np.zeros((len(prompts), len(cols)))
    queries = 0
    for r, prompt in enumerate(prompts):
        for g in groups:
            got = api(prompt, {i: bias for i in [*g, reference]})
            queries += 1
            missing = [i for i in [*g, reference] if i not in got]
            if missing:
                raise ValueError(
                    f"tokens {missing[:5]} not in the returned top {top}: raise the bias"
                )
            rows[r, [where[i] for i in g]] = [got[i] - got[reference] for i in g]
    return BiasedLogits(rows, queries)

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
"""

from __future__ import annotations

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
    """``min_G ||reference - basis @ G|| / ||reference||`` (the error up to a linear map)."""
    g, *_ = np.linalg.lstsq(basis, reference, rcond=None)
    return float(np.linalg.norm(reference - basis @ g) / np.linalg.norm(reference))

"""Hidden dimension and final layer from the logit matrix (logit-SVD).

Carlini, Paleka, Dvijotham, Steinke, Hayase, Cooper, Lee, Jagielski, Nasr, Conmy, Wallace,
Rolnick & Tramer, "Stealing Part of a Production Language Model", ICML 2024
(arXiv:2403.06634), section 4.

A model whose last layer is linear, ``z(x) = W h(x) + b`` with ``W`` of shape ``K x h`` and
``h < K``, has logit vectors confined to an ``h``-dimensional affine subspace. Stack
``n > h`` full logit vectors into ``Q`` (``n x K``); after removing the mean over queries
(the bias) and the mean over classes (the softmax shift, so log-probabilities work too) its
numerical rank is ``h``, and the top ``h`` right singular vectors ``V_h`` span the columns of
the (class-centred) ``W``: ``W = V_h A`` for an unknown ``h x h`` matrix ``A``. The hidden
dimension is read off the largest drop between consecutive singular values.

:func:`logit_svd` is the pure-numerics core (the LLM module reuses it on next-token logits).

Example:
    >>> res = LogitSVD(query_budget=300).extract(target)
    >>> res.parameters["hidden_dim"]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from advlab.access import Access
from advlab.attacks.extraction.base import (
    Evaluator,
    ExtractionAttack,
    Stolen,
    input_dtype,
    uniform_inputs,
)
from advlab.errors import ConfigError
from advlab.registry import register_attack
from advlab.targets.base import Target
from advlab.vocab import renamed_params

log = logging.getLogger(__name__)


@dataclass
class LogitSVDFit:
    """Hidden dimension, singular values and the recovered ``K x h`` layer basis ``V_h``."""

    hidden_dim: int
    singular_values: np.ndarray
    basis: np.ndarray
    full_rank: bool


def logit_svd(logits: torch.Tensor | np.ndarray) -> LogitSVDFit:
    """Analyse a stack of logit (or log-probability) vectors, shape ``(n, K)``.

    Returns the numerical rank after double centring (the hidden dimension when
    ``n > h`` and ``h < K - 1``) and the right singular vectors spanning the final layer.
    ``full_rank`` is true when no drop is seen, i.e. ``h`` may be ``>= min(n, K) - 1``.
    """
    q = torch.as_tensor(np.asarray(logits) if not isinstance(logits, torch.Tensor) else logits)
    q = q.detach().to(torch.float64).cpu()
    if q.dim() != 2 or min(q.shape) < 2:
        raise ConfigError(f"logit_svd needs a (n, K) matrix with n, K >= 2, got {tuple(q.shape)}")
    q = q - q.mean(dim=1, keepdim=True)
    q = q - q.mean(dim=0, keepdim=True)
    _, s, vh = torch.linalg.svd(q, full_matrices=False)
    s_np = s.numpy()
    r_max = min(q.shape[0] - 1, q.shape[1] - 1)  # both centrings remove one dimension
    s_use = s_np[:r_max]
    floor = np.finfo(np.float64).tiny
    logs = np.log(np.maximum(s_use, floor))
    gaps = logs[:-1] - logs[1:]
    if len(gaps) == 0:
        return LogitSVDFit(r_max, s_np, vh[:r_max].T.numpy(), True)
    k = int(np.argmax(gaps))
    # a real rank drop is many orders of magnitude; a flat spectrum means "full rank"
    full = bool(gaps[k] < np.log(1e3))
    h = r_max if full else k + 1
    return LogitSVDFit(h, s_np, vh[:h].T.numpy(), full)


def final_linear_weight(module: torch.nn.Module) -> torch.Tensor | None:
    """The weight of the last ``nn.Linear`` of a module (experimenter's reference)."""
    last = None
    for m in module.modules():
        if isinstance(m, torch.nn.Linear):
            last = m
    return None if last is None else last.weight.detach().to(torch.float64).cpu()


def aligned_error(basis: np.ndarray, weight: torch.Tensor) -> tuple[float, float]:
    """Error of ``basis @ A`` against the class-centred ``weight`` for the best ``h x h`` A.

    Returns (max absolute error, relative Frobenius error).
    """
    w = weight - weight.mean(dim=0, keepdim=True)
    b = torch.as_tensor(basis, dtype=torch.float64)
    a = torch.linalg.lstsq(b, w).solution
    resid = b @ a - w
    return float(resid.abs().max()), float(resid.norm() / w.norm().clamp_min(1e-300))


@register_attack
class LogitSVD(ExtractionAttack):
    """Recover the hidden dimension and the final layer (up to an ``h x h`` map) from logits.

    Args:
        query_budget: number of random queries (must exceed the hidden dimension; default
            ``num_classes + 16``, enough to see any ``h < K``).
        seed: seed of the random queries.
    """

    name = "logit_svd"
    requires = Access.SCORES
    paper = "Carlini et al. 2024, ICML, arXiv:2403.06634"
    summary = "SVD of stacked logit vectors: hidden dimension + final layer up to h x h map."
    link = "arXiv:2403.06634"
    flags = frozenset({"query_based", "randomized"})

    expected_failures = {
        "efficacy_floor": "recovers the hidden dimension from the rank of the logits, not a "
        "classifier: there is no agreement to measure (tests/extraction check the rank)"
    }

    @renamed_params(queries="query_budget")
    def __init__(self, *, query_budget: int | None = None, seed: int | None = 0) -> None:
        self.query_budget = query_budget
        self.seed = seed

    def _validate(self) -> None:
        if self.query_budget is not None and (
            not isinstance(self.query_budget, int) or self.query_budget < 3
        ):
            raise ConfigError(
                f"logit_svd: query_budget must be an integer >= 3, got {self.query_budget!r}"
            )

    def min_queries(self, target: Target) -> int:
        return self.query_budget if self.query_budget is not None else target.num_classes + 16

    def _extract(
        self,
        target: Target,
        x: torch.Tensor | None,
        *,
        generator: torch.Generator,
        evaluate: Evaluator,
    ) -> Stolen:
        n = self.min_queries(target)
        g = torch.Generator().manual_seed(int(self.seed or 0))
        xq = uniform_inputs(target, n, g, dtype=input_dtype(target))
        scores = self._query_scores(target, xq).to(torch.float64)
        if target.output == "probs":
            if bool((scores <= 0).any()):
                log.warning("%s: zero probabilities returned; clamped before the log", self.name)
            scores = torch.log(scores.clamp_min(1e-300))
        fit = logit_svd(scores)
        params: dict[str, Any] = {
            "hidden_dim": fit.hidden_dim,
            "full_rank": fit.full_rank,
            "singular_values": fit.singular_values[
                : min(len(fit.singular_values), fit.hidden_dim + 8)
            ],
            "final_layer_basis": fit.basis,
            "identifiable_as": "class-centred W up to an h x h linear map (W = basis @ A)",
        }
        extra: dict[str, Any] = {}
        param_error = None
        from advlab.attacks.extraction.base import reference_forward

        if reference_forward(target) is not None:
            module = _find_module(target)
            w = None if module is None else final_linear_weight(module)
            if w is not None:
                extra["true_hidden_dim"] = int(w.shape[1])
                if w.shape[1] == fit.hidden_dim:
                    param_error, rel = aligned_error(fit.basis, w)
                    extra["param_error_relative_fro"] = rel
        if fit.full_rank:
            log.warning(
                "%s: no rank drop in %d queries x %d classes: the hidden dimension is >= %d "
                "or the queries are too few",
                self.name,
                n,
                target.num_classes,
                fit.hidden_dim,
            )
        return Stolen(model=None, parameters=params, param_error=param_error, extra=extra)


def _find_module(target: Target) -> torch.nn.Module | None:
    t: Any = target
    while t is not None:
        for attr in ("model", "module"):
            m = getattr(t, attr, None)
            if isinstance(m, torch.nn.Module):
                return m
        t = getattr(t, "inner", None)
    return None

"""Equation-solving extraction of (multinomial) logistic regression.

Tramer, Zhang, Juels, Reiter & Ristenpart, "Stealing Machine Learning Models via Prediction
APIs", USENIX Security 2016 (arXiv:1609.02943), section 4.1.

A softmax model ``p = softmax(W x + b)`` answers probabilities whose log-ratios are affine:
``log p_k(x) - log p_0(x) = (w_k - w_0) . x + (b_k - b_0)``. The parameters are identifiable
only up to adding one vector to every class row (the softmax is shift-invariant), so we
recover the *centred* parameters ``W - mean_k W``, ``b - mean_k b``, which define exactly the
same probabilities. With ``d + 1`` well-chosen queries -- a base point ``x_0`` and ``x_0 +
s_i e_i`` for each feature ``i`` -- the linear system is diagonal: ``b`` from ``x_0`` and column
``i`` of ``W`` from the difference of the centred log-probabilities. Binary logistic
regression (two-class output ``[1 - sigmoid(z), sigmoid(z)]``) is the ``K = 2`` case.

The precision of the recovery is the precision of the target's outputs: float64 outputs
give errors around 1e-13; float32 outputs around 1e-6. With ``verify=True`` one extra query
at a random point checks the recovered model and reports a target whose outputs are not
those of a logistic-regression model (or are not deterministic).

Example:
    >>> res = EquationSolving().extract(target, x_eval=x_test, y_eval=y_test)
    >>> res.queries, res.fidelity, res.param_error
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import nn

from advlab.access import Access
from advlab.attacks.extraction.base import (
    Evaluator,
    ExtractionAttack,
    Stolen,
    input_dtype,
    reference_forward,
    uniform_inputs,
)
from advlab.errors import ConfigError, InputError
from advlab.registry import register_attack
from advlab.targets.base import Target

log = logging.getLogger(__name__)


class LinearSoftmax(nn.Module):
    """A (float64) linear classifier on flattened inputs: the stolen copy."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.detach().clone(), requires_grad=False)
        self.bias = nn.Parameter(bias.detach().clone(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(len(x), -1).to(self.weight.dtype)
        return flat @ self.weight.T + self.bias


def centred_log_scores(scores: torch.Tensor, output: str, who: str) -> torch.Tensor:
    """Log-probabilities (or logits) minus their mean over classes, in float64."""
    s = scores.to(torch.float64)
    if output == "probs":
        if bool((s <= 0).any()):
            raise InputError(
                f"{who}: the target returned zero probabilities (underflow or rounding); "
                "exact equation solving needs strictly positive scores or raw logits"
            )
        s = torch.log(s)
    return s - s.mean(dim=1, keepdim=True)


def probe_design(target: Target) -> tuple[torch.Tensor, torch.Tensor]:
    """Base point (the centre of the bounds) and per-feature steps (half the range)."""
    shape = target.input_shape
    lo = torch.broadcast_to(target.lower.cpu(), shape).to(torch.float64).reshape(-1)
    hi = torch.broadcast_to(target.upper.cpu(), shape).to(torch.float64).reshape(-1)
    fin_lo, fin_hi = torch.isfinite(lo), torch.isfinite(hi)
    x0 = torch.where(
        fin_lo & fin_hi,
        (lo + hi) / 2,
        torch.where(fin_lo, lo, torch.where(fin_hi, hi, torch.zeros_like(lo))),
    )
    step = torch.where(
        fin_lo & fin_hi,
        (hi - lo) / 2,
        torch.where(fin_hi, -torch.ones_like(lo), torch.ones_like(lo)),
    )
    return x0, step


@register_attack
class EquationSolving(ExtractionAttack):
    """Exact extraction of (multinomial) logistic regression from ``d + 1`` score queries.

    Args:
        verify: spend one more query at a random point to check the recovered model.
        tol: relative tolerance of that check (float32 outputs need ~1e-4).
        seed: seed of the check point.
    """

    name = "equation_solving"
    requires = Access.SCORES
    paper = "Tramer et al. 2016, USENIX Security, arXiv:1609.02943"
    summary = "Solve d+1 linear equations per class: exact logistic-regression parameters."
    link = "arXiv:1609.02943"
    flags = frozenset({"query_based", "randomized"})

    expected_failures = dict.fromkeys(
        (
            "respects_query_budget",
            "result_json_roundtrip",
            "deterministic_under_seed",
            "efficacy_floor",
        ),
        "solves for a linear-softmax model's parameters and rightly refuses the kit's CNN "
        "target (tests/extraction/test_exact.py checks it on logistic regression)",
    )

    def __init__(self, *, verify: bool = True, tol: float = 1e-4, seed: int | None = 0) -> None:
        self.verify = verify
        self.tol = tol
        self.seed = seed

    def _validate(self) -> None:
        self._positive(tol=self.tol)

    def min_queries(self, target: Target) -> int:
        return int(np.prod(target.input_shape)) + 1 + int(bool(self.verify))

    def _extract(
        self,
        target: Target,
        x: torch.Tensor | None,
        *,
        generator: torch.Generator,
        evaluate: Evaluator,
    ) -> Stolen:
        d = int(np.prod(target.input_shape))
        x0, step = probe_design(target)
        if bool((step == 0).any()):
            raise ConfigError(
                f"{self.name}: {int((step == 0).sum())} features have lower == upper bound; "
                "their weights cannot be probed"
            )
        probes = x0.repeat(d + 1, 1)
        probes[1:] += torch.diag(step)
        dtype = input_dtype(target)
        xq = probes.reshape(d + 1, *target.input_shape).to(target.device, dtype)
        scores = self._query_scores(target, xq)
        lc = centred_log_scores(scores, target.output, self.name).cpu()
        weight = ((lc[1:] - lc[0]) / step[:, None]).T.contiguous()  # (K, d)
        bias = lc[0] - weight @ x0
        stolen = LinearSoftmax(weight, bias)
        extra: dict[str, Any] = {"output_dtype": str(scores.dtype).replace("torch.", "")}
        if self.verify:
            g = torch.Generator().manual_seed(int(self.seed or 0))
            xc = uniform_inputs(target, 1, g, dtype=dtype)
            got = centred_log_scores(self._query_scores(target, xc), target.output, self.name)
            want = stolen(xc.cpu().double())
            resid = float((got.cpu() - want).abs().max())
            scale = 1.0 + float(got.abs().max())
            extra["check_residual"] = resid
            if resid > self.tol * scale:
                raise InputError(
                    f"{self.name}: target outputs are inconsistent with a logistic-regression "
                    f"model (residual {resid:.3g} on a check query, tolerance "
                    f"{self.tol * scale:.3g}); the model is not linear-softmax or its answers "
                    "are noisy"
                )
        param_error = None
        ref = reference_forward(target)
        if ref is not None:
            true_out = ref(probes.reshape(d + 1, *target.input_shape))
            true_lc = centred_log_scores(true_out, "logits", self.name)
            tw = ((true_lc[1:] - true_lc[0]) / step[:, None]).T
            tb = true_lc[0] - tw @ x0
            param_error = float(max((tw - weight).abs().max(), (tb - bias).abs().max()))
            extra["param_error_relative"] = param_error / float(max(tw.abs().max(), tb.abs().max()))
        return Stolen(
            model=stolen,
            parameters={
                "weight": weight.numpy(),
                "bias": bias.numpy(),
                "identifiable_as": "centred over classes (W - mean_k W, b - mean_k b)",
            },
            param_error=param_error,
            extra=extra,
        )

"""LiRA: the likelihood-ratio membership attack.

Carlini, Chien, Nasr, Song, Terzis & Tramer, "Membership Inference Attacks From First
Principles", IEEE S&P 2022 (arXiv:2112.03570).

For each example ``(x, y)`` and each query augmentation, the target's logit-scaled
confidence ``phi = log(p_y / (1 - p_y))`` (float64, from logits: ``z_y - logsumexp_{j != y}
z_j``) is compared with Gaussians fitted to the reference models' ``phi`` on the same
example:

- online: IN models (trained on ``x``) and OUT models; score = ``log N(phi; mu_in, s_in^2) -
  log N(phi; mu_out, s_out^2)``, averaged over augmentations;
- offline: OUT models only, one-sided test; score = ``-log Pr[Z > phi]`` with
  ``Z ~ N(mu_out, s_out^2)`` (``-logsf``: no saturation for very confident members).

Variance: per-example (each example's own IN and OUT variances) or global (one pooled
within-example variance for IN and one for OUT). **The default rule** (``fixed_variance=None``):
a global variance below :data:`GLOBAL_VARIANCE_BELOW` = 64 reference models, per-example
variances from 64 up. The paper finds per-example variances better only with many shadow
models and recommends a global variance when there are few (below 64): with ``M``
references each example's IN and OUT variances rest on about ``M / 2`` values each, too few
to estimate a variance per example (an underestimated variance turns a small deviation into
a huge likelihood ratio), while the pooled estimate uses all ``N * M`` values.
``fixed_variance=True`` / ``False`` forces global / per-example. The mode used is in
:meth:`LiRA.variance_mode`. Needs :class:`~advlab.attacks.inference.signals.Signals` with
reference models.

Example:
    >>> LiRA(offline=False).infer(signals).tpr_at(0.001)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from advlab.attacks.inference.base import MembershipAttack
from advlab.attacks.inference.signals import Signals, logit_confidence
from advlab.errors import ConfigError
from advlab.registry import register_attack

GLOBAL_VARIANCE_BELOW = 64
"""Fewer reference models than this: LiRA's default uses a global variance (Carlini et al.
2022 recommend it below 64 shadow models); from this many up, per-example variances."""


def variance_mode(n_models: int, fixed_variance: bool | None = None) -> str:
    """``"global"`` or ``"per-example"``: the variance LiRA uses with ``n_models`` reference
    models (``fixed_variance`` forces it; ``None`` applies :data:`GLOBAL_VARIANCE_BELOW`)."""
    if fixed_variance is None:
        return "global" if n_models < GLOBAL_VARIANCE_BELOW else "per-example"
    return "global" if fixed_variance else "per-example"


def _masked_stats(
    phi: np.ndarray, mask: np.ndarray, fixed_variance: bool, min_std: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-example (and per-augmentation) mean and std of ``phi`` (M, N, A) over ``mask`` (M, N)."""
    w = mask[:, :, None].astype(np.float64)
    cnt = w.sum(axis=0)
    mean = (phi * w).sum(axis=0) / np.maximum(cnt, 1)
    resid = ((phi - mean[None]) ** 2 * w).sum(axis=0)
    pooled = np.sqrt(resid.sum() / max(float((cnt - 1).clip(min=0).sum()), 1.0))
    if fixed_variance:
        std = np.full_like(mean, pooled)
    else:
        std = np.sqrt(resid / np.maximum(cnt - 1, 1))
        std = np.where(cnt >= 2, std, pooled)  # one model: no variance of its own
    return mean, np.maximum(std, min_std)


@register_attack
class LiRA(MembershipAttack):
    name = "lira"
    paper = "Carlini et al. 2022, arXiv:2112.03570"
    summary = "Likelihood ratio of the target's logit-scaled confidence under IN/OUT Gaussians."
    link = "arXiv:2112.03570"
    flags = frozenset({"needs_reference_models"})
    suite_params = {"gradients": {}, "scores": {}}

    def __init__(
        self,
        *,
        offline: bool = False,
        fixed_variance: bool | None = None,
        min_std: float = 1e-3,
    ) -> None:
        self.offline = offline
        self.fixed_variance = fixed_variance
        self.min_std = min_std

    def variance_mode(self, n_models: int) -> str:
        """The variance (``"global"`` / ``"per-example"``) used with ``n_models`` references."""
        return variance_mode(n_models, self.fixed_variance)

    def score(self, signals: Signals) -> np.ndarray:
        signals.require_scores(self.name)
        signals.require_reference(self.name, need_in=not self.offline)
        if self.min_std <= 0:
            raise ConfigError(f"{self.name}: min_std must be > 0, got {self.min_std}")
        assert signals.ref_logits is not None and signals.ref_in is not None
        phi_t = logit_confidence(signals.target_logits, signals.labels)  # (N, A)
        phi_r = logit_confidence(signals.ref_logits, signals.labels)  # (M, N, A)
        out_mask = ~signals.ref_in
        if not out_mask.any(axis=0).all():
            missing = np.flatnonzero(~out_mask.any(axis=0))
            raise ConfigError(
                f"{self.name}: examples {missing[:10].tolist()} are in every reference model; "
                "LiRA needs OUT models for each example"
            )
        fixed = self.variance_mode(signals.n_models) == "global"
        mu_out, sd_out = _masked_stats(phi_r, out_mask, fixed, self.min_std)
        if self.offline:
            z = (phi_t - mu_out) / sd_out
            return -norm.logsf(z).mean(axis=1)  # type: ignore[no-any-return]
        mu_in, sd_in = _masked_stats(phi_r, signals.ref_in, fixed, self.min_std)
        llr = norm.logpdf(phi_t, mu_in, sd_in) - norm.logpdf(phi_t, mu_out, sd_out)
        return llr.mean(axis=1)  # type: ignore[no-any-return]

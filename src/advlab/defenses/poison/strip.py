"""STRIP: run-time detection of triggered inputs.

Gao, Xu, Wang, Chen, Ranasinghe & Nepal, "STRIP: A Defence Against Trojan Attacks on Deep
Neural Networks", ACSAC 2019 (https://arxiv.org/abs/1902.06531). Superimpose ``n_overlay``
(~20) random clean inputs on a suspect input and average the entropy of the model's
predictions: a trigger dominates the blends, so triggered inputs give low entropy. The
threshold is the ``fpr`` quantile (the paper's false-rejection rate, FRR) of clean inputs'
entropies: the paper sets it from the clean entropy distribution at a chosen FRR.

As a training-data detector (``detect``), the statistic is ``-log`` of the blend entropy of each
training point, blended with the clean held-out set when given (else with the training set).
Threshold rules (``calibration``, see :mod:`advlab.defenses.poison.calibration`), all over
the whole set (the paper's threshold is not per class): ``default`` flags entropies below the
``fpr`` quantile of the blend pool's own entropies (the clean set's: the paper's rule; without
one, the training set's, i.e. the ``fpr`` least-entropy fraction); ``clean`` the conformal
version of the paper's rule; ``robust`` modified z-scores of ``-log`` entropy above 3.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from advlab.defenses.poison.base import PoisonDetector
from advlab.defenses.poison.calibration import PoisonStatistic
from advlab.errors import ConfigError, InputError
from advlab.registry import register_defense
from advlab.results import Result
from advlab.vocab import renamed_params

CHUNK = 2048  # blended images per forward pass
EPS = 1e-12  # floor of the entropy in its logarithm


@dataclass
class StripResult(Result):
    """Per input: ``entropy`` (mean over blends) and ``flagged`` (entropy < threshold)."""

    type_name: ClassVar[str] = "strip"

    entropy: Any = None
    flagged: Any = None
    threshold: float = 0.0


@register_defense
class Strip(PoisonDetector):
    """STRIP detector, at inference time (``fit`` / ``detect_inputs``) or on training data
    (``detect``).

    Args:
        n_overlay: clean inputs blended with each suspect input.
        fpr: accepted false-rejection rate on clean inputs (the paper's FRR, deprecated alias
            ``frr``; sets the threshold). 0.05: the most clean data a useful filter may remove
            in the benchmark's criterion (the paper reports 0.5-2% on larger clean sets).
        seed: seeds which clean inputs are blended.
        calibration: threshold rule of ``detect``: ``default``, ``clean`` or ``robust``.

    Example:
        >>> strip = Strip().fit(model, x_clean)
        >>> strip.detect_inputs(x_suspect).flagged
    """

    name = "strip"
    role = "detector"
    threat = "poisoning"
    paper = "Gao et al. 2019, arXiv:1902.06531"
    summary = "Flag inputs whose predictions stay confident under superimposed clean inputs."
    link = "arXiv:1902.06531"
    flags = frozenset({"data_level", "randomized"})
    per_class_rule: ClassVar[bool] = False

    @renamed_params(frr="fpr")
    def __init__(
        self,
        *,
        n_overlay: int = 20,
        fpr: float = 0.05,
        seed: int = 0,
        calibration: str = "default",
    ) -> None:
        self.n_overlay = n_overlay
        self.fpr = fpr
        self.seed = seed
        self.calibration = calibration

    @property
    def frr(self) -> float:
        """The paper's name of :attr:`fpr`."""
        return float(self.fpr)

    def _entropy(self, x: np.ndarray) -> np.ndarray:
        """Mean prediction entropy of each input blended with ``n_overlay`` pool inputs."""
        return blend_entropy(self.model_, x, self.clean_, self.n_overlay, self.seed)

    def fit(self, model: Any, x_clean: Any) -> Strip:
        """Store the model and clean inputs; set the threshold at the ``fpr`` quantile of
        clean entropies."""
        self._prepare(model, x_clean)
        self.threshold_ = float(np.quantile(self._entropy(self.clean_), float(self.fpr)))
        return self

    def _prepare(self, model: Any, x_clean: Any) -> Strip:
        """Check and store the model and the blend pool (no entropies computed)."""
        m = getattr(model, "model", model)
        if not isinstance(m, nn.Module):
            raise InputError(
                f"strip needs a torch model or TorchClassifier, got {type(model).__name__}"
            )
        if not 0 < float(self.fpr) < 1:
            raise ConfigError(f"strip: fpr must be in (0, 1), got {self.fpr!r}")
        xc = np.asarray(x_clean, dtype=np.float32)
        if len(xc) < self.n_overlay + 1:
            raise InputError(
                f"strip needs more than n_overlay={self.n_overlay} clean inputs, got {len(xc)}"
            )
        self.model_ = m.eval()
        self.clean_ = xc
        return self

    def detect_inputs(self, x: Any) -> StripResult:
        if not hasattr(self, "threshold_"):
            raise ConfigError("strip: call fit(model, x_clean) before detect_inputs")
        ent = self._entropy(np.asarray(x, dtype=np.float32))
        return StripResult(
            attack=self.name,
            params=self.get_params(),
            entropy=ent,
            flagged=ent < self.threshold_,
            threshold=self.threshold_,
        )

    def statistic(self, x: Any, y: Any, *, model: Any = None, clean: Any = None) -> PoisonStatistic:
        """``-log`` blend entropy of the training points (and of the clean points, when given,
        blended with clean points). The logarithm is monotone, so the quantile rules are those
        of the entropy; it spreads the near-zero entropies of confident inputs, where the
        triggered ones sit, for the robust rule."""
        xa, ya, xc, yc = self._inputs(x, y, model, clean)
        self._prepare(model, xa if xc is None else xc)
        ent = self._entropy(xa)
        cent = None if xc is None else self._entropy(xc)
        pool_ent = ent if cent is None else cent
        # the threshold fit() would set, from the pool's entropies computed once here
        thr = self.threshold_ = float(np.quantile(pool_ent, float(self.fpr)))
        return PoisonStatistic(
            ya,
            -np.log(ent + EPS),
            np.flatnonzero(ent < thr),
            None if cent is None else -np.log(cent + EPS),
            yc,
            info={"entropy_threshold": thr},
        )


def blend_entropy(
    model: nn.Module, x: np.ndarray, pool: np.ndarray, n_overlay: int, seed: int
) -> np.ndarray:
    """Mean softmax entropy of each ``x[i]`` superimposed on ``n_overlay`` seeded draws from
    ``pool`` (``clip(x + other, 0) / 2``), batched over inputs."""
    dev = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    draws = np.stack([rng.choice(len(pool), size=n_overlay, replace=False) for _ in range(len(x))])
    per = max(1, CHUNK // max(1, n_overlay))
    out = np.zeros(len(x))
    with torch.no_grad():
        for s in range(0, len(x), per):
            xb, db = x[s : s + per], draws[s : s + per]
            blend = np.clip(xb[:, None] + pool[db], 0.0, None) / 2.0
            flat = torch.as_tensor(blend.reshape(-1, *x.shape[1:]), dtype=torch.float32, device=dev)
            p = torch.softmax(model(flat), 1)
            ent = -(p * torch.log(p.clamp_min(1e-12))).sum(1)
            out[s : s + len(xb)] = ent.reshape(len(xb), n_overlay).mean(1).cpu().numpy()
    return out

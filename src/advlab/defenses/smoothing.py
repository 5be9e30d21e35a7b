"""Randomized smoothing: certified L2 robustness by Gaussian noise and a majority vote.

Cohen, Rosenfeld & Kolter, "Certified Adversarial Robustness via Randomized Smoothing",
ICML 2019 (arXiv:1902.02918). The smoothed classifier ``g(x) = argmax_c P(f(x + d) = c)``,
``d ~ N(0, sigma^2 I)``, is robust within the L2 radius ``sigma * Phi^-1(p_A)`` when the
top class has probability at least ``p_A >= 1/2``. Monte-Carlo estimates with guarantees:

- ``PREDICT``: ``n`` noisy samples; return the top class when a two-sided binomial test of
  its count against the runner-up's (``p = 1/2``) has p-value ``<= alpha``, else abstain
  (the paper's ``alpha`` is the ``failure_probability`` parameter).
- ``CERTIFY``: guess the top class ``c_A`` from ``n0`` samples, count it in ``n`` fresh
  samples, take the one-sided ``(1 - alpha)`` Clopper-Pearson lower bound ``p_A_lower``;
  abstain when ``p_A_lower < 1/2``, else certify radius ``sigma * Phi^-1(p_A_lower)``.

Only the base classifier's labels are needed, so any target (even label-only) can be
smoothed. Noisy inputs are not clipped to the bounds (as in the paper). Base models should
be trained with Gaussian noise augmentation at the same ``sigma``: :func:`train_with_noise`.

Example:
    >>> rs = RandomizedSmoothing(sigma=0.25, n=1000)
    >>> cert = rs.certify(target, x, y)
    >>> cert.certified_accuracy_curve([0.0, 0.25, 0.5])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from advlab.access import Access
from advlab.defenses.base import DefendedTarget, Defense
from advlab.errors import ConfigError, InputError
from advlab.registry import register_defense
from advlab.results import Result
from advlab.targets.base import Target
from advlab.utils import as_labels, make_generator, progress_bar, resolve_device, seed_everything
from advlab.vocab import renamed_params

log = logging.getLogger(__name__)

ABSTAIN = -1


def clopper_pearson_lower(k: int, n: int, alpha: float) -> float:
    """One-sided ``(1 - alpha)`` Clopper-Pearson lower confidence bound on a binomial ``p``.

    ``Beta(alpha; k, n - k + 1)`` quantile, 0 when ``k == 0`` (equals the lower end of
    statsmodels' ``proportion_confint(k, n, alpha=2 * alpha, method="beta")``).
    """
    if not 0 <= k <= n or n < 1:
        raise InputError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    if k == 0:
        return 0.0
    from scipy.stats import beta

    return float(beta.ppf(alpha, k, n - k + 1))


def binomial_pvalue(k: int, n: int, p: float = 0.5) -> float:
    """Two-sided exact binomial test p-value of ``k`` successes in ``n`` trials."""
    if n == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(int(k), int(n), p).pvalue)


@dataclass
class CertificationResult(Result):
    """Per-input outcome of randomized-smoothing certification.

    ``prediction[i]`` is the certified class or ``-1`` (abstain); ``radius[i]`` the certified
    L2 radius (0 when abstaining); ``p_lower[i]`` the Clopper-Pearson lower bound on the top
    class probability. Certified accuracy at ``r``: prediction correct and ``radius >= r``.
    """

    type_name: ClassVar[str] = "certification"
    renamed_fields: ClassVar[dict[str, str]] = {"alpha": "failure_probability"}

    sigma: float = 0.0
    n0: int = 0
    n: int = 0
    failure_probability: float = 0.0
    y: Any = None
    prediction: Any = None
    radius: Any = None
    p_lower: Any = None

    def _after_load(self) -> None:
        for name in ("y", "prediction", "radius", "p_lower"):
            v = getattr(self, name)
            if isinstance(v, np.ndarray):
                setattr(self, name, torch.from_numpy(v))

    @property
    def num_points(self) -> int:
        return 0 if self.prediction is None else len(self.prediction)

    @property
    def abstained(self) -> torch.Tensor:
        return torch.as_tensor(self.prediction) == ABSTAIN

    @property
    def correct(self) -> torch.Tensor:
        return torch.as_tensor(self.prediction) == torch.as_tensor(self.y)

    def certified_accuracy(self, radius: float) -> float:
        """Fraction of inputs classified correctly with a certified radius ``>= radius``."""
        if not self.num_points:
            return float("nan")
        ok = self.correct & (torch.as_tensor(self.radius) >= radius)
        return float(ok.float().mean())

    def certified_accuracy_curve(self, radii: Sequence[float]) -> list[float]:
        """Certified accuracy at each radius (non-increasing in the radius)."""
        return [self.certified_accuracy(float(r)) for r in radii]

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        n = max(self.num_points, 1)
        rad = torch.as_tensor(self.radius) if self.radius is not None else torch.zeros(0)
        ok = self.correct if self.num_points else torch.zeros(0, dtype=torch.bool)
        s.update(
            sigma=self.sigma,
            n0=self.n0,
            n=self.n,
            failure_probability=self.failure_probability,
            points=self.num_points,
            abstain_rate=round(float(self.abstained.sum()) / n, 6) if self.num_points else 0.0,
            certified_accuracy_at_0=round(self.certified_accuracy(0.0), 6),
            mean_radius_correct=round(float(rad[ok].mean()), 6) if bool(ok.any()) else 0.0,
        )
        return s


@register_defense
class RandomizedSmoothing(Defense):
    """Randomized smoothing (Cohen et al. 2019): prediction with abstention, certification.

    Args:
        sigma: standard deviation of the Gaussian noise, in input units.
        n0: samples used to guess the top class in :meth:`certify`.
        n: samples used to estimate its probability (and in :meth:`predict` / the target).
        failure_probability: the paper's ``alpha``, the failure probability of the
            certificate / the prediction test (deprecated alias ``alpha``).
        batch_size: noisy samples per forward pass.
        seed: seeds the noise.
    """

    name = "randomized_smoothing"
    role = "postprocess"
    threat = "evasion"
    paper = "Cohen, Rosenfeld & Kolter 2019, ICML, arXiv:1902.02918"
    summary = "Randomized smoothing: Gaussian-noise majority vote with a certified L2 radius."
    link = "arXiv:1902.02918"
    flags = frozenset({"randomized", "wraps_target"})

    fast_params = {"n0": 8, "n": 32}

    @renamed_params(alpha="failure_probability")
    def __init__(
        self,
        *,
        sigma: float = 0.25,
        n0: int = 100,
        n: int = 1000,
        failure_probability: float = 0.001,
        batch_size: int = 1000,
        seed: int | None = 0,
    ) -> None:
        self.sigma = sigma
        self.n0 = n0
        self.n = n
        self.failure_probability = failure_probability
        self.batch_size = batch_size
        self.seed = seed

    def _validate(self) -> None:
        self._positive(sigma=self.sigma)
        for k in ("n0", "n", "batch_size"):
            v = getattr(self, k)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"{self.name}: {k} must be an integer >= 1, got {v!r}")
        if not 0.0 < float(self.failure_probability) < 1.0:
            raise ConfigError(
                f"{self.name}: failure_probability must be in (0, 1), "
                f"got {self.failure_probability!r}"
            )

    # ------------------------------------------------------------------ sampling
    def _counts(
        self,
        target: Target,
        x: torch.Tensor,
        num: int,
        gen: torch.Generator,
        *,
        counted: bool = True,
    ) -> torch.Tensor:
        """``(N, num_classes)`` counts of base labels over ``num`` noisy copies of each input."""
        n_in = len(x)
        counts = torch.zeros(n_in, target.num_classes, dtype=torch.long, device=x.device)
        total = n_in * num
        flat = x.reshape(n_in, -1)
        for start in range(0, total, self.batch_size):
            idx = torch.arange(start, min(start + self.batch_size, total), device=x.device) // num
            noise = torch.randn((len(idx), flat.shape[1]), generator=gen, device=gen.device)
            xb = (flat[idx] + float(self.sigma) * noise.to(x.device)).reshape(
                len(idx), *x.shape[1:]
            )
            if counted:
                labels = target.labels(xb)
            else:
                with torch.no_grad():
                    labels = target._forward(xb).argmax(1)
            counts.index_put_((idx, labels), torch.ones_like(labels), accumulate=True)
        return counts

    # ------------------------------------------------------------------ public API
    def predict(self, target: Target, x: Any) -> torch.Tensor:
        """Smoothed labels with abstention (``-1``) by the binomial test (Cohen's PREDICT)."""
        self._validate()
        xt = target.check_inputs(x)
        gen = make_generator(self.seed, target.device)
        counts = self._counts(target, xt, self.n, gen).cpu()
        top2 = counts.topk(min(2, counts.shape[1]), dim=1)
        out = torch.full((len(xt),), ABSTAIN, dtype=torch.long)
        for i in range(len(xt)):
            n_a = int(top2.values[i, 0])
            n_b = int(top2.values[i, 1]) if top2.values.shape[1] > 1 else 0
            if binomial_pvalue(n_a, n_a + n_b, 0.5) <= float(self.failure_probability):
                out[i] = int(top2.indices[i, 0])
        return out

    def certify(self, target: Target, x: Any, y: Any) -> CertificationResult:
        """Certified class and L2 radius per input (Cohen's CERTIFY)."""
        self._validate()
        t0 = time.perf_counter()
        q0, g0 = target.meter.snapshot()
        xt = target.check_inputs(x)
        yt = as_labels(y, device=torch.device("cpu")).reshape(-1)
        if len(yt) != len(xt):
            raise InputError(f"got {len(xt)} inputs but {len(yt)} labels")
        gen = make_generator(self.seed, target.device)
        pred = torch.full((len(xt),), ABSTAIN, dtype=torch.long)
        radius = torch.zeros(len(xt), dtype=torch.float64)
        p_lower = torch.zeros(len(xt), dtype=torch.float64)
        from scipy.stats import norm

        chunk = max(1, self.batch_size // max(self.n, 1)) * 8
        with progress_bar("certify", len(xt)) as advance:
            for start in range(0, len(xt), chunk):
                xb = xt[start : start + chunk]
                guess = self._counts(target, xb, self.n0, gen).argmax(1)
                counts = self._counts(target, xb, self.n, gen)
                n_a = counts.gather(1, guess[:, None]).squeeze(1).cpu()
                for j in range(len(xb)):
                    i = start + j
                    pl = clopper_pearson_lower(int(n_a[j]), self.n, float(self.failure_probability))
                    p_lower[i] = pl
                    if pl >= 0.5:
                        pred[i] = int(guess[j])
                        radius[i] = max(0.0, float(self.sigma) * float(norm.ppf(pl)))
                advance(len(xb))
        q1, g1 = target.meter.snapshot()
        return CertificationResult(
            attack=self.name,
            params=self.get_params(),
            seed=self.seed,
            queries=q1 - q0,
            gradient_calls=g1 - g0,
            seconds=time.perf_counter() - t0,
            target=target.describe(),
            sigma=float(self.sigma),
            n0=int(self.n0),
            n=int(self.n),
            failure_probability=float(self.failure_probability),
            y=yt,
            prediction=pred,
            radius=radius,
            p_lower=p_lower,
        )

    def apply(self, target: Target) -> Target:
        """The smoothed classifier as a target: scores are vote frequencies over ``n`` draws."""
        self._validate()
        return SmoothedTarget(target, self)


class SmoothedTarget(DefendedTarget):
    """Monte-Carlo smoothed classifier: ``scores(x)`` are the frequencies of each base label
    over ``n`` Gaussian draws (``output="probs"``), ``labels(x)`` the majority vote.

    It never abstains (use :meth:`RandomizedSmoothing.predict` for that), is randomized (a
    generator seeded at ``apply`` advances with every call: evaluate attacks with EOT), and
    grants at most score access: the vote has no useful gradient. One query of this target
    costs ``n`` base-model evaluations (counted as one query on the shared meter).
    """

    output = "probs"

    def __init__(self, inner: Target, defense: RandomizedSmoothing) -> None:
        super().__init__(inner, defense)
        self.access = Access.SCORES
        self.output = "probs"
        self.deterministic = False
        self._smoother = defense
        self._gen = make_generator(defense.seed, inner.device)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        counts = self._smoother._counts(self.inner, x, self._smoother.n, self._gen, counted=False)
        return counts.to(x.dtype) / float(self._smoother.n)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["smoothing"] = {"sigma": self._smoother.sigma, "n": self._smoother.n}
        return d


def train_with_noise(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    sigma: float,
    config: Any = None,
    *,
    device: str | torch.device = "auto",
) -> nn.Module:
    """Train ``model`` in place with Gaussian noise augmentation (Cohen et al. 2019, sec. 4).

    Every training batch is perturbed by ``N(0, sigma^2)`` noise (not clipped, like at
    certification time). ``config`` is a :class:`~advlab.models.TrainConfig` (epochs,
    batch size, learning rate, weight decay, seed; ``adversarial`` must be ``None``).
    Returns the model in eval mode.
    """
    from advlab.models.train import TrainConfig

    cfg = config or TrainConfig()
    cfg.validate()
    if cfg.adversarial is not None:
        raise ConfigError("train_with_noise: adversarial training with noise is not supported")
    if not float(sigma) >= 0:
        raise ConfigError(f"train_with_noise: sigma must be >= 0, got {sigma!r}")
    dev = resolve_device(device)
    seed_everything(cfg.seed)
    model.to(dev).train()
    xt = torch.as_tensor(x, dtype=torch.float32, device=dev)
    yt = torch.as_tensor(y, dtype=torch.long, device=dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    with progress_bar(f"train (noise sigma={sigma})", cfg.epochs) as advance:
        for _ in range(cfg.epochs):
            perm = torch.randperm(len(xt), generator=gen).to(dev)
            for start in range(0, len(xt), cfg.batch_size):
                idx = perm[start : start + cfg.batch_size]
                noise = torch.randn(xt[idx].shape, generator=gen).to(dev)
                loss = F.cross_entropy(model(xt[idx] + float(sigma) * noise), yt[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            advance(1)
    return model.eval()

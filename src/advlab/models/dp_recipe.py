"""A DP-SGD recipe that learns: fixed ScatterNet features and a DP-SGD linear classifier.

Tramer & Boneh, "Differentially Private Learning Needs Better Features (or Much More Data)",
ICLR 2021 (arXiv:2011.11660): at small epsilon, end-to-end DP-SGD on a CNN spends its budget
learning features; hand-crafted, data-independent features (the scattering transform of
:mod:`advlab.models.scatternet`, normalised per example) with a linear model on top reach
about 98% on MNIST at epsilon 3. This module trains that linear model with DP-SGD (Abadi et
al. 2016, arXiv:1607.00133): Poisson-sampled batches, per-example gradients clipped to
``max_grad_norm``, Gaussian noise ``noise_multiplier * max_grad_norm`` on their sum, SGD with
momentum on the sum divided by the *expected* batch size.

For a softmax-linear model the per-example gradient is ``(p_i - y_i) [x_i, 1]^T``, so its norm
is ``||p_i - y_i|| * sqrt(||x_i||^2 + 1)`` and the clipped sum is one matrix product: no
per-example gradient is ever materialised, which makes the recipe fast on CPUs.

The noise multiplier comes from Opacus' accountant (PRV by default) for the target
``(epsilon, delta)`` at the recipe's sampling rate and number of steps, and the epsilon spent
is read back from the same accountant. ``target_epsilon=math.inf`` trains the same recipe
with clipping but without noise (the non-private reference point).

**The default rule** (:meth:`DPRecipe.resolved`), a function of ``n`` only: expected batch
size ``min(n, 1024)`` (large batches: the noise on the mean gradient falls as ``1/B``); about
300 noisy steps, i.e. ``ceil(300 B / n)`` epochs kept within [30, 100]; clipping norm 0.1,
learning rate 1 and momentum 0.9 (with per-example normalised features every example is
clipped, so ``lr * C = 0.1`` is the step on the mean clipped gradient); ``delta = 1e-5``,
and at most ``1 / (10 n)``. The learning rate was picked from {1, 2, 4} on two pools
(digits, a 10,000-image MNIST subset) at epsilon 1 and 3; large batches, the small clipping
norm and momentum follow Tramer & Boneh, the batch cap and the step count are this module's.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from advlab.errors import ConfigError
from advlab.models.scatternet import GroupFeatureNorm, ScatterNet, default_groups, scatter_features

log = logging.getLogger(__name__)

MAX_BATCH = 1024
"""The expected batch size is ``min(n, MAX_BATCH)``."""
EPOCH_RULE = (30, 100)
"""Epochs: ``clip(steps_wanted * B / n, *EPOCH_RULE)`` with ``steps_wanted = 300`` steps."""
STEPS_WANTED = 300


@dataclass(frozen=True)
class DPRecipe:
    """Options of :func:`train_dp_recipe`; ``None`` fields follow the default rule."""

    target_epsilon: float
    delta: float | None = None
    batch_size: int | None = None
    epochs: int | None = None
    max_grad_norm: float = 0.1
    lr: float = 1.0
    momentum: float = 0.9
    features: str = "scatter"  # "scatter" | "raw" (per-example normalised pixels)
    J: int = 2  # noqa: N815
    L: int = 8  # noqa: N815
    accountant: str = "prv"
    seed: int = 0

    def resolved(self, n: int) -> DPRecipe:
        """The recipe for ``n`` training examples with every ``None`` field filled by the rule."""
        if n < 2:
            raise ConfigError(f"DP training needs at least 2 examples, got {n}")
        batch = self.batch_size or min(n, MAX_BATCH)
        epochs = self.epochs or int(np.clip(math.ceil(STEPS_WANTED * batch / n), *EPOCH_RULE))
        delta = self.delta if self.delta is not None else min(1e-5, 1.0 / (10 * n))
        out = replace(self, batch_size=batch, epochs=epochs, delta=delta)
        out.validate(n)
        return out

    def validate(self, n: int) -> None:
        """Raise :class:`ConfigError` naming the first bad option."""
        if not (self.target_epsilon > 0):
            raise ConfigError(f"target_epsilon must be > 0 (or inf), got {self.target_epsilon}")
        if self.delta is not None and not 0 < self.delta < 1:
            raise ConfigError(f"delta must be in (0, 1), got {self.delta}")
        if self.batch_size is not None and not 1 <= self.batch_size <= n:
            raise ConfigError(f"batch_size must be in [1, n={n}], got {self.batch_size}")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        for name in ("max_grad_norm", "lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.features not in ("scatter", "raw"):
            raise ConfigError(f"features must be 'scatter' or 'raw', got {self.features!r}")
        if self.accountant not in ("prv", "rdp"):
            raise ConfigError(f"accountant must be 'prv' or 'rdp', got {self.accountant!r}")


@dataclass
class DPRecipeResult:
    """A trained recipe: the model (images to logits), its privacy and the resolved options."""

    model: nn.Module
    epsilon: float
    noise_multiplier: float
    steps: int
    recipe: DPRecipe


class FeatureModel(nn.Module):
    """Images to logits: fixed feature map, per-example normalisation, linear layer."""

    def __init__(self, features: nn.Module, linear: nn.Linear) -> None:
        super().__init__()
        self.features, self.linear = features, linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images."""
        return self.linear(self.features(x).flatten(1))


def featurize(x: np.ndarray, recipe: DPRecipe) -> np.ndarray:
    """The recipe's data-independent features of images ``(N, C, H, W)`` (float32, flat)."""
    if recipe.features == "scatter":
        return scatter_features(x, J=recipe.J, L=recipe.L)
    flat = torch.as_tensor(np.asarray(x, dtype=np.float32)).flatten(1)
    return nn.functional.layer_norm(flat, flat.shape[1:]).numpy()


def feature_module(input_shape: tuple[int, ...], recipe: DPRecipe) -> nn.Module:
    """The torch module computing :func:`featurize` (for the deployed model)."""
    if recipe.features == "raw":
        return _RawNorm()
    c, h, w = input_shape
    net = ScatterNet((h, w), J=recipe.J, L=recipe.L)
    return nn.Sequential(net, GroupFeatureNorm(default_groups(net, c)))


class _RawNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        return nn.functional.layer_norm(flat, flat.shape[1:])


def noise_for(recipe: DPRecipe, n: int) -> tuple[float, int]:
    """``(noise_multiplier, steps)`` that spend ``recipe.target_epsilon`` (resolved recipe)."""
    assert recipe.batch_size is not None and recipe.epochs is not None and recipe.delta
    q = recipe.batch_size / n
    steps = max(1, round(recipe.epochs / q))
    if math.isinf(recipe.target_epsilon):
        return 0.0, steps
    sigma = _noise(recipe.target_epsilon, recipe.delta, q, steps, recipe.accountant)
    return sigma, steps


@lru_cache(maxsize=64)
def _noise(epsilon: float, delta: float, q: float, steps: int, accountant: str) -> float:
    from opacus.accountants.utils import get_noise_multiplier

    return float(
        get_noise_multiplier(
            target_epsilon=epsilon,
            target_delta=delta,
            sample_rate=q,
            steps=steps,
            accountant=accountant,
        )
    )


def spent_epsilon(recipe: DPRecipe, n: int, noise_multiplier: float, steps: int) -> float:
    """Epsilon that ``steps`` Poisson-sampled steps at ``noise_multiplier`` spend, per the
    recipe's accountant (``inf`` without noise)."""
    assert recipe.batch_size is not None and recipe.delta
    if noise_multiplier <= 0:
        return math.inf
    return _spent(noise_multiplier, recipe.batch_size / n, steps, recipe.delta, recipe.accountant)


@lru_cache(maxsize=64)
def _spent(sigma: float, q: float, steps: int, delta: float, accountant: str) -> float:
    from opacus.accountants import PRVAccountant, RDPAccountant

    acc = PRVAccountant() if accountant == "prv" else RDPAccountant()
    acc.history = [(sigma, q, steps)]
    return float(acc.get_epsilon(delta))


def clipped_gradient_sum(
    w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: torch.Tensor, clip: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum over the batch of the per-example cross-entropy gradients of ``x @ w.T + b``,
    each clipped to L2 norm ``clip`` (over ``w`` and ``b`` together)."""
    p = torch.softmax(x @ w.T + b, dim=1)
    r = p - nn.functional.one_hot(y, p.shape[1]).to(p.dtype)
    norms = r.norm(dim=1) * torch.sqrt((x * x).sum(1) + 1.0)
    scale = (clip / norms.clamp_min(1e-12)).clamp(max=1.0)
    rs = r * scale[:, None]
    return rs.T @ x, rs.sum(0)


def train_dp_linear(
    feats: np.ndarray, y: np.ndarray, num_classes: int, recipe: DPRecipe
) -> tuple[nn.Linear, float, float, int]:
    """DP-SGD on a softmax-linear model; returns ``(linear, epsilon, noise_multiplier, steps)``.

    ``recipe`` must be resolved (:meth:`DPRecipe.resolved`) for ``len(feats)``.
    """
    n, d = feats.shape
    sigma, steps = noise_for(recipe, n)
    assert recipe.batch_size is not None
    gen = torch.Generator().manual_seed(recipe.seed)
    x = torch.as_tensor(feats, dtype=torch.float32)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
    w = torch.zeros(num_classes, d)
    b = torch.zeros(num_classes)
    vw, vb = torch.zeros_like(w), torch.zeros_like(b)
    q, c, step = recipe.batch_size / n, recipe.max_grad_norm, recipe.lr / recipe.batch_size
    for _ in range(steps):
        idx = torch.nonzero(torch.rand(n, generator=gen) < q).flatten()
        gw, gb = clipped_gradient_sum(w, b, x[idx], yt[idx], c)
        if sigma > 0:
            gw += sigma * c * torch.randn(gw.shape, generator=gen)
            gb += sigma * c * torch.randn(gb.shape, generator=gen)
        vw.mul_(recipe.momentum).add_(gw)
        vb.mul_(recipe.momentum).add_(gb)
        w -= step * vw
        b -= step * vb
    linear = nn.Linear(d, num_classes)
    with torch.no_grad():
        linear.weight.copy_(w)
        linear.bias.copy_(b)
    eps = spent_epsilon(recipe, n, sigma, steps)
    log.info(
        "DP recipe: %d steps, q=%.4f, noise multiplier %.3f, epsilon %.3f at delta %g",
        steps,
        q,
        sigma,
        eps,
        recipe.delta,
    )
    return linear, eps, sigma, steps


def train_dp_recipe(
    x: np.ndarray,
    y: np.ndarray,
    recipe: DPRecipe,
    *,
    num_classes: int | None = None,
    feats: np.ndarray | None = None,
) -> DPRecipeResult:
    """Train the recipe on images ``x`` ``(N, C, H, W)`` with labels ``y``.

    ``feats``: ``featurize(x, recipe)`` when already computed (features are
    data-independent, so they may be computed once for many models).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise ConfigError(f"train_dp_recipe needs images (N, C, H, W), got shape {x.shape}")
    y = np.asarray(y, dtype=np.int64)
    k = int(num_classes if num_classes is not None else y.max() + 1)
    resolved = recipe.resolved(len(x))
    f = featurize(x, resolved) if feats is None else np.asarray(feats, dtype=np.float32)
    if len(f) != len(x):
        raise ConfigError(f"feats has {len(f)} rows for {len(x)} images")
    linear, eps, sigma, steps = train_dp_linear(f, y, k, resolved)
    model = FeatureModel(feature_module(tuple(x.shape[1:]), resolved), linear).eval()
    return DPRecipeResult(model, eps, sigma, steps, resolved)

"""Input transformations as target wrappers: bit-depth reduction, median smoothing, noise.

- Bit-depth reduction and median smoothing: Xu, Evans & Qi, "Feature Squeezing: Detecting
  Adversarial Examples in Deep Neural Networks", NDSS 2018 (arXiv:1704.01155).
- Gaussian input noise: the randomized transform behind randomized smoothing (Cohen et al.
  2019) and "Mitigating adversarial effects through randomization" (Xie et al. 2018).

Each defense's :meth:`apply` returns a :class:`TransformedTarget` that transforms inputs
before the inner target's forward pass.

Gradients are honest by default
-------------------------------
``TransformedTarget.gradient`` returns the *true* gradient of ``objective(f(t(x)))``: the
inner gradient at ``t(x)`` pulled back through the transform's Jacobian with autograd.
Quantisation (bit-depth reduction) has a zero derivative almost everywhere, so that
gradient is zero: the defense *masks* gradients, and a gradient attack that reports high
robust accuracy against it is fooled (Athalye, Carlini & Wagner, "Obfuscated Gradients Give
a False Sense of Security", ICML 2018, arXiv:1802.00420). The assessment sanity checks
flag such zero gradients. Construct the defense with ``bpda=True`` to get the adaptive
attacker's view instead: Backward Pass Differentiable Approximation with the identity, i.e.
the inner gradient evaluated at ``t(x)`` passed straight through (``dt/dx ~ I``). Against
that gradient bit-depth reduction is not a defense.

Example:
    >>> defended = BitDepthReduction(bits=4).apply(target)
    >>> PGD(eps=0.1).run(defended, x, y)            # fooled: zero gradients
    >>> PGD(eps=0.1).run(BitDepthReduction(bits=4, bpda=True).apply(target), x, y)  # adaptive
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from advlab.defenses.base import DefendedTarget, Defense
from advlab.errors import ConfigError
from advlab.registry import register_defense
from advlab.targets.base import Objective, Target, to_logits
from advlab.utils import make_generator

log = logging.getLogger(__name__)

Transform = Callable[[torch.Tensor], torch.Tensor]


class TransformedTarget(DefendedTarget):
    """A target whose inputs pass through ``transform`` before the inner model.

    ``bpda=False``: gradients are the true autograd gradients through the transform (zero for
    quantisation). ``bpda=True``: the inner gradient at ``transform(x)`` is returned as is
    (straight-through / BPDA with the identity).
    """

    def __init__(
        self, inner: Target, defense: Defense, transform: Transform, *, bpda: bool = False
    ) -> None:
        super().__init__(inner, defense)
        self.transform = transform
        self.bpda = bool(bpda)
        self.deterministic = inner.deterministic and not defense.has("randomized")

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner._forward(self.transform(x))

    def _gradient(self, x: torch.Tensor, objective: Objective) -> tuple[torch.Tensor, torch.Tensor]:
        if self.bpda:
            with torch.no_grad():
                xt = self.transform(x)
            return self.inner._gradient(xt, objective)
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            xt = self.transform(xg)
            g_inner, out = self.inner._gradient(xt.detach(), objective)
            if not xt.requires_grad:  # a transform with no autograd path: zero derivative
                return torch.zeros_like(x), out
            # vector-Jacobian product: (d t / d x)^T g_inner, the chain rule through t
            (grad,) = torch.autograd.grad(xt, xg, grad_outputs=g_inner, allow_unused=True)
        if grad is None:
            grad = torch.zeros_like(x)
        return grad.detach(), out

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["bpda"] = self.bpda
        return d


# ---------------------------------------------------------------------- functional transforms
def _unit(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    return (x - lo) / span, span


def bit_depth_reduce(
    x: torch.Tensor, bits: int, lower: torch.Tensor | float = 0.0, upper: torch.Tensor | float = 1.0
) -> torch.Tensor:
    """Quantise ``x`` (inside ``[lower, upper]``) to ``2**bits`` evenly spaced levels.

    ``round(u * (2**bits - 1)) / (2**bits - 1)`` on ``u = (x - lower) / (upper - lower)``,
    mapped back to the bounds (Xu et al. 2018). ``torch.round`` has a zero derivative, so
    autograd through this function gives zero gradients.
    """
    lo = torch.as_tensor(lower, dtype=x.dtype, device=x.device)
    hi = torch.as_tensor(upper, dtype=x.dtype, device=x.device)
    levels = float(2**bits - 1)
    u, span = _unit(x, lo, hi)
    q = torch.round(u.clamp(0.0, 1.0) * levels) / levels
    return lo + q * span


def _reflect_index(size: int, before: int, after: int, device: torch.device) -> torch.Tensor:
    """Indices for scipy's ``mode="reflect"`` padding (``d c b a | a b c d | d c b a``)."""
    idx = torch.arange(-before, size + after, device=device)
    period = 2 * size
    idx = torch.remainder(idx, period)
    return torch.where(idx >= size, period - 1 - idx, idx)


def median_filter2d(x: torch.Tensor, kernel: int) -> torch.Tensor:
    """2-D median filter over the last two dimensions of ``(N, C, H, W)`` or ``(N, H, W)``.

    Matches ``scipy.ndimage.median_filter(img, size=kernel, mode="reflect")`` per channel,
    including even kernels (window ``[i - k//2, i - k//2 + k - 1]``, the upper median, like
    scipy's rank ``k*k // 2``). Differentiable: the gradient flows to the selected pixel.
    """
    if kernel < 1:
        raise ConfigError(f"median kernel must be >= 1, got {kernel}")
    squeeze = x.dim() == 3
    if squeeze:
        x = x.unsqueeze(1)
    if x.dim() != 4:
        raise ConfigError(
            f"median smoothing needs images (N, C, H, W) or (N, H, W); got {tuple(x.shape)}"
        )
    if kernel == 1:
        return x.squeeze(1) if squeeze else x
    n, c, h, w = x.shape
    before, after = kernel // 2, kernel - 1 - kernel // 2
    rows = _reflect_index(h, before, after, x.device)
    cols = _reflect_index(w, before, after, x.device)
    xp = x.index_select(2, rows).index_select(3, cols)
    patches = F.unfold(xp.reshape(n * c, 1, *xp.shape[2:]), kernel_size=kernel)  # (NC, k*k, H*W)
    med = patches.kthvalue(kernel * kernel // 2 + 1, dim=1).values
    out = med.reshape(n, c, h, w)
    return out.squeeze(1) if squeeze else out


# ---------------------------------------------------------------------- defenses
class InputTransform(Defense):
    """Base of preprocessing defenses: subclasses build the transform for a target."""

    role: ClassVar[str] = "preprocess"
    threat: ClassVar[str] = "evasion"
    requires_images: ClassVar[bool] = False
    """Whether the transform draws randomness on every call (the target is then not
    deterministic)."""

    bpda: bool

    def _validate(self, target: Target) -> None:
        """Check parameters against the target; subclasses extend."""

    def transform_for(self, target: Target) -> Transform:
        raise NotImplementedError

    def apply(self, target: Target) -> Target:
        self._validate(target)
        return TransformedTarget(target, self, self.transform_for(target), bpda=self.bpda)


@register_defense
class BitDepthReduction(InputTransform):
    """Quantise each input feature to ``2**bits`` levels inside the target's bounds.

    Args:
        bits: bits per feature (1 .. 16); Xu et al. use 1 bit on MNIST, 4-5 bits on CIFAR-10.
        bpda: gradients straight through the quantiser (adaptive attacker, Athalye 2018)
            instead of the true zero gradient.
    """

    name = "bit_depth"
    paper = "Xu, Evans & Qi 2018 (Feature Squeezing), arXiv:1704.01155"
    summary = (
        "Bit-depth reduction: quantise inputs to 2^bits levels (masks gradients; BPDA breaks it)."
    )
    link = "arXiv:1704.01155"
    flags = frozenset({"wraps_target"})
    tags = frozenset({"modality:image"})

    def __init__(self, *, bits: int = 4, bpda: bool = False) -> None:
        self.bits = bits
        self.bpda = bpda

    def _validate(self, target: Target) -> None:
        if not isinstance(self.bits, int) or not 1 <= self.bits <= 16:
            raise ConfigError(f"{self.name}: bits must be an integer in 1..16, got {self.bits!r}")

    def transform_for(self, target: Target) -> Transform:
        lo, hi, bits = target.lower, target.upper, self.bits
        return lambda x: bit_depth_reduce(x, bits, lo, hi)


@register_defense
class MedianSmoothing(InputTransform):
    """2-D median filter (``kernel x kernel``, reflect padding) over image inputs.

    Inputs must be images of shape ``(C, H, W)`` or ``(H, W)``. Differentiable almost
    everywhere (the gradient reaches the median pixel), so it does not mask gradients.
    """

    name = "median_smoothing"
    paper = "Xu, Evans & Qi 2018 (Feature Squeezing), arXiv:1704.01155"
    summary = "Median smoothing: a 2-D median filter over image inputs (spatial smoothing)."
    link = "arXiv:1704.01155"
    flags = frozenset({"wraps_target"})
    tags = frozenset({"modality:image"})

    def __init__(self, *, kernel: int = 3, bpda: bool = False) -> None:
        self.kernel = kernel
        self.bpda = bpda

    def _validate(self, target: Target) -> None:
        if not isinstance(self.kernel, int) or self.kernel < 1:
            raise ConfigError(f"{self.name}: kernel must be an integer >= 1, got {self.kernel!r}")
        if len(target.input_shape) not in (2, 3):
            raise ConfigError(
                f"{self.name} needs image inputs (C, H, W) or (H, W); the target takes "
                f"{target.input_shape}"
            )

    def transform_for(self, target: Target) -> Transform:
        k = self.kernel
        return lambda x: median_filter2d(x, k)


@register_defense
class GaussianNoiseInput(InputTransform):
    """Add Gaussian noise ``N(0, sigma^2)`` to every input (a randomized forward pass).

    The noise is drawn from a generator seeded with ``seed`` when the defense is applied, so
    a run is reproducible, but two calls on the same input differ: evaluate it with EOT
    (average gradients over draws). ``clip`` keeps noisy inputs inside the bounds. The
    gradient is the true one (the identity through the noise) at the noisy point.
    """

    name = "gaussian_noise"
    paper = "Cohen, Rosenfeld & Kolter 2019, arXiv:1902.02918; Xie et al. 2018, arXiv:1711.01991"
    summary = "Gaussian input noise: a randomized transform (evaluate with EOT)."
    link = "arXiv:1902.02918"
    flags = frozenset({"randomized", "wraps_target"})

    def __init__(
        self, *, sigma: float = 0.1, clip: bool = True, seed: int | None = 0, bpda: bool = False
    ) -> None:
        self.sigma = sigma
        self.clip = clip
        self.seed = seed
        self.bpda = bpda

    def _validate(self, target: Target) -> None:
        if not float(self.sigma) >= 0:
            raise ConfigError(f"{self.name}: sigma must be >= 0, got {self.sigma!r}")

    def transform_for(self, target: Target) -> Transform:
        gen = make_generator(self.seed, target.device)
        sigma, clip = float(self.sigma), self.clip

        def noisy(x: torch.Tensor) -> torch.Tensor:
            noise = torch.randn(x.shape, generator=gen, device=gen.device).to(x.device, x.dtype)
            out = x + sigma * noise
            return target.clip(out) if clip else out

        return noisy


def transformed_logits(target: Target, x: torch.Tensor) -> torch.Tensor:
    """Uncounted logits of ``target`` (helper for detectors built on transforms)."""
    return to_logits(target._forward(x), target.output)

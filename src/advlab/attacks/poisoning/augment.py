"""Differentiable data augmentation for images (random shifts, flips) used by the victim
training loop (as a mitigation) and by Witches' Brew while crafting (Geiping et al. 2021
craft with the victim's augmentations so the poisons survive them)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_shift(
    x: torch.Tensor, max_shift: int = 1, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Shift each image by up to ``max_shift`` pixels (zero padding); differentiable in ``x``.

    ``x`` has shape ``(N, C, H, W)``; non-image inputs are returned unchanged.
    """
    if x.dim() != 4 or max_shift <= 0:
        return x
    n, _, h, w = x.shape
    p = max_shift
    padded = F.pad(x, (p, p, p, p))
    shifts = torch.randint(0, 2 * p + 1, (n, 2), generator=generator).to(x.device)
    rows = (torch.arange(h, device=x.device)[None, :] + shifts[:, :1]).clamp_max(h + 2 * p - 1)
    cols = (torch.arange(w, device=x.device)[None, :] + shifts[:, 1:]).clamp_max(w + 2 * p - 1)
    idx_n = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx_n, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


def augment_batch(
    x: torch.Tensor, kind: str | None, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``None`` | ``"shift"`` (+-1 px) | ``"shift2"`` (+-2 px) | ``"noise"`` (shift + N(0, 0.05))."""
    if kind is None or kind == "none":
        return x
    if kind == "shift":
        return random_shift(x, 1, generator=generator)
    if kind == "shift2":
        return random_shift(x, 2, generator=generator)
    if kind == "noise":
        noise = torch.randn(x.shape, generator=generator).to(x.device) * 0.05
        return random_shift(x, 1, generator=generator) + noise
    from advlab.errors import ConfigError

    raise ConfigError(f"unknown augmentation {kind!r}; valid: none, shift, shift2, noise")

"""Inline PNG images (data URIs) for the gallery: inputs and perturbation heat maps (pillow)."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np


def _to_hwc(x: np.ndarray) -> np.ndarray:
    """(C,H,W) or (H,W) or (H,W,C) -> (H,W,C) with C in {1,3}."""
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3):
        a = np.transpose(a, (1, 2, 0))
    if a.ndim != 3:
        raise ValueError(f"not an image: shape {x.shape}")
    return a[..., :3] if a.shape[-1] >= 3 else a[..., :1]


def is_image(shape: list[int] | tuple[int, ...]) -> bool:
    s = tuple(shape)
    return len(s) == 2 or (len(s) == 3 and (s[0] in (1, 3) or s[-1] in (1, 3)))


def _png(rgb: np.ndarray, size: int) -> str:
    from PIL import Image

    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    scale = max(1, size // max(img.size))
    img = img.resize((img.size[0] * scale, img.size[1] * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def image_uri(x: Any, bounds: tuple[float, float] = (0.0, 1.0), size: int = 96) -> str:
    a = _to_hwc(np.asarray(x))
    lo, hi = bounds
    a = (a - lo) / max(hi - lo, 1e-12) * 255
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return _png(a, size)


def heatmap_uri(delta: Any, scale: float | None = None, size: int = 96) -> str:
    """Signed perturbation as a blue (negative) / white / red (positive) heat map."""
    d = _to_hwc(np.asarray(delta)).mean(-1)
    s = scale if scale and scale > 0 else float(np.abs(d).max()) or 1.0
    v = np.clip(d / s, -1, 1)
    r = np.where(v > 0, 255, 255 * (1 + v))
    g = 255 * (1 - np.abs(v))
    b = np.where(v < 0, 255, 255 * (1 - v))
    return _png(np.stack([r, g, b], -1), size)

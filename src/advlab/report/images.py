"""Inline PNG images (data URIs) for the gallery: inputs and perturbation heat maps.

PNGs are written with the standard library (zlib + struct; PNG specification, W3C 2003), so a
core install renders reports without an imaging package.
"""

from __future__ import annotations

import base64
import struct
import zlib
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


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def encode_png(pixels: np.ndarray) -> bytes:
    """An 8-bit grey (H, W) / (H, W, 1) or RGB (H, W, 3) array as PNG bytes."""
    a = np.asarray(pixels, dtype=np.uint8)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] != 3) or 0 in a.shape:
        raise ValueError(f"need (H, W), (H, W, 1) or (H, W, 3) pixels, got shape {a.shape}")
    h, w = a.shape[:2]
    colour = 2 if a.ndim == 3 else 0
    rows = a.reshape(h, -1)
    raw = b"".join(b"\x00" + rows[i].tobytes() for i in range(h))  # filter type 0 per row
    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _png(rgb: np.ndarray, size: int) -> str:
    img = np.clip(rgb, 0, 255).astype(np.uint8)
    scale = max(1, size // max(img.shape[0], img.shape[1]))
    img = img.repeat(scale, axis=0).repeat(scale, axis=1)  # nearest-neighbour upscaling
    return "data:image/png;base64," + base64.b64encode(encode_png(img)).decode()


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

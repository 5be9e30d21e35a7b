"""A procedurally generated 32x32 colour traffic-sign set with GTSRB's 43 classes.

A stand-in for the German Traffic Sign Recognition Benchmark (Stallkamp et al. 2012), which
cannot be downloaded here: each image is a sign of one of the 43 classes of
:mod:`advlab.data.sign_glyphs` drawn analytically (so a perspective warp is only a change
of coordinates) on a 2x super-sampled canvas, then degraded as photographs of signs are:

* placement: scale, rotation (+-10 degrees), offset and a mild projective tilt;
* background: a random colour field with smooth low-frequency variation;
* lighting: brightness, contrast, gamma and a per-channel colour cast;
* blur (Gaussian), partial occlusion by a rectangle (one image in four), sensor noise.

Everything is seeded: the same arguments give the same pixels. A set of 43 x 200 training
and 43 x 50 test images is generated in seconds on one core and cached as ``.npz``.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from scipy.ndimage import gaussian_filter, zoom

from advlab.data.datasets import Dataset
from advlab.data.files import cached_arrays
from advlab.data.sign_glyphs import CLASSES, ICONS, SignClass, bitmap, text_bitmap
from advlab.errors import ConfigError
from advlab.registry import register_dataset

log = logging.getLogger(__name__)

SUPERSAMPLE = 2
GENERATOR_VERSION = 1
"""Bumped whenever the drawing changes, so cached sets are rebuilt."""


def _polygon(n: int, rotation: float) -> np.ndarray:
    """Unit normals and offsets of a regular ``n``-gon of circumradius 1."""
    angles = rotation + 2 * np.pi * (np.arange(n) + 0.5) / n
    normals = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    offsets = np.full(n, np.cos(np.pi / n))
    return np.concatenate([normals, offsets[:, None]], axis=1)


POLYGONS = {
    "triangle": _polygon(3, np.pi / 2 + np.pi / 3),  # apex up (v grows downwards)
    "yield": _polygon(3, np.pi / 2),  # apex down
    "octagon": _polygon(8, 0.0),
    "diamond": _polygon(4, np.pi / 4 - np.pi / 4),
}
BORDER = 0.2
PICT_BOX = {  # centre v and half-height of the pictogram box, per shape
    "circle": (0.0, 0.42),
    "triangle": (0.15, 0.28),
    "yield": (-0.2, 0.2),
    "octagon": (0.0, 0.3),
    "diamond": (0.0, 0.3),
}


def _distance(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed distance-like field: negative inside the unit sign, zero on its edge."""
    if shape == "circle":
        return np.sqrt(u * u + v * v) - 1.0
    poly = POLYGONS[shape]
    return np.max(
        poly[:, 0, None, None] * u + poly[:, 1, None, None] * v - poly[:, 2, None, None], 0
    )


def _pict_mask(cls: SignClass, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if not cls.pict or cls.pict == "signals":
        return np.zeros(u.shape, dtype=bool)
    bits = text_bitmap(cls.pict[5:]) if cls.pict.startswith("text:") else bitmap(ICONS[cls.pict])
    if cls.mirror:
        bits = bits[:, ::-1]
    cv, half = PICT_BOX[cls.shape]
    h, w = bits.shape
    bh, bw = half, half * w / h
    limit = 0.62 if cls.shape == "circle" else 0.5
    if bw > limit:
        bh, bw = bh * limit / bw, limit
    col = np.floor((u + bw) / (2 * bw) * w).astype(int)
    row = np.floor((v - cv + bh) / (2 * bh) * h).astype(int)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    out = np.zeros(u.shape, dtype=bool)
    out[inside] = bits[row[inside], col[inside]]
    return out


def draw_sign(cls: SignClass, u: np.ndarray, v: np.ndarray, canvas: np.ndarray) -> np.ndarray:
    """Paint ``cls`` over ``canvas`` (H, W, 3) at sign coordinates ``u, v``; the sign mask."""
    d = _distance(cls.shape, u, v)
    outer = d <= 0
    inner = d <= -BORDER * (0.6 if cls.shape == "octagon" else 1.0)
    canvas[outer] = cls.border
    canvas[inner] = cls.fill
    if cls.strike:
        canvas[inner & (np.abs(u + v) < 0.12)] = (0.25, 0.25, 0.25)
    if cls.pict == "signals":
        for cv, colour in (
            (-0.2, (0.85, 0.1, 0.1)),
            (0.12, (0.95, 0.75, 0.1)),
            (0.44, (0.1, 0.7, 0.2)),
        ):
            canvas[(u * u + (v - cv) ** 2) < 0.012] = colour
    canvas[inner & _pict_mask(cls, u, v)] = cls.ink
    return outer


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    base = rng.uniform(0.1, 0.9, size=3)
    field = rng.normal(0.0, rng.uniform(0.05, 0.25), size=(4, 4, 3))
    smooth = zoom(field, (size / 4, size / 4, 1), order=1)
    return np.clip(base + smooth, 0.0, 1.0)


def render(class_id: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """One degraded image of class ``class_id``: float32 ``(3, size, size)`` in [0, 1]."""
    cls = CLASSES[class_id]
    big = size * SUPERSAMPLE
    canvas = _background(rng, big)
    coords = (np.arange(big) + 0.5) / big * 2.0 - 1.0
    y, x = np.meshgrid(coords, coords, indexing="ij")
    scale = rng.uniform(0.62, 0.92)
    theta = np.deg2rad(rng.uniform(-10, 10))
    tx, ty = rng.uniform(-1, 1, size=2) * (1.0 - scale) * 0.6
    c, s = np.cos(theta), np.sin(theta)
    u = (c * (x - tx) + s * (y - ty)) / scale
    v = (-s * (x - tx) + c * (y - ty)) / scale
    g, h = rng.uniform(-0.12, 0.12, size=2)
    w = 1.0 + g * u + h * v
    u, v = u / w, v / w
    mask = draw_sign(cls, u, v, canvas)
    if rng.random() < 0.25:  # occlusion: a rectangle over part of the sign
        rows, cols = np.nonzero(mask)
        if len(rows):
            r0 = rng.integers(rows.min(), rows.max() + 1)
            c0 = rng.integers(cols.min(), cols.max() + 1)
            rh, cw = (rng.integers(big // 8, big // 3, size=2)).tolist()
            canvas[r0 : r0 + rh, c0 : c0 + cw] = rng.uniform(0.0, 1.0, size=3)
    img = canvas.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE, 3).mean(axis=(1, 3))
    sigma = rng.uniform(0.0, 0.9)
    if sigma > 0.25:
        img = gaussian_filter(img, sigma=(sigma, sigma, 0))
    img = img * rng.uniform(0.85, 1.15, size=3)  # colour cast
    img = (img - 0.5) * rng.uniform(0.6, 1.2) + 0.5  # contrast
    img = np.clip(img * rng.uniform(0.4, 1.3), 0.0, 1.0) ** rng.uniform(0.7, 1.4)  # light
    img = img + rng.normal(0.0, rng.uniform(0.0, 0.03), size=img.shape)
    return np.clip(img, 0.0, 1.0).transpose(2, 0, 1).astype(np.float32)


def generate(n_per_class: int, *, seed: int = 0, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """``n_per_class`` images of every class, uint8 ``(N, 3, size, size)`` and labels."""
    rng = np.random.default_rng(seed)
    xs = np.empty((n_per_class * len(CLASSES), 3, size, size), dtype=np.uint8)
    ys = np.repeat(np.arange(len(CLASSES), dtype=np.uint8), n_per_class)
    for i, label in enumerate(ys):
        xs[i] = np.rint(render(int(label), rng, size) * 255.0)
    order = rng.permutation(len(ys))
    return xs[order], ys[order]


@register_dataset("traffic_signs")
def traffic_signs(
    *, seed: int = 0, n_per_class: int = 200, test_per_class: int = 50, size: int = 32
) -> Dataset:
    """Generated traffic signs: 43 classes, RGB ``(3, size, size)`` in [0, 1].

    Training and test images come from independent seeded streams; the result is cached by
    its arguments and :data:`GENERATOR_VERSION`.
    """
    if n_per_class < 1 or test_per_class < 1:
        raise ConfigError("n_per_class and test_per_class must be positive")
    if size < 16 or size % 4:
        raise ConfigError(f"size must be a multiple of 4, at least 16; got {size}")

    def build() -> dict[str, np.ndarray]:
        start = time.perf_counter()
        xtr, ytr = generate(n_per_class, seed=2 * seed, size=size)
        xte, yte = generate(test_per_class, seed=2 * seed + 1, size=size)
        log.info(
            "generated %d traffic signs in %.1f s", len(xtr) + len(xte), time.perf_counter() - start
        )
        return {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}

    key = f"traffic_signs-v{GENERATOR_VERSION}-{seed}-{n_per_class}-{test_per_class}-{size}"
    a = cached_arrays(key, build)
    return Dataset(
        "traffic_signs",
        a["x_train"].astype(np.float32) / 255.0,
        a["y_train"].astype(np.int64),
        a["x_test"].astype(np.float32) / 255.0,
        a["y_test"].astype(np.int64),
        modality="image",
        class_names=[c.name for c in CLASSES],
        meta={"generator_version": GENERATOR_VERSION, "seed": seed},
    )

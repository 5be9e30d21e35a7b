"""Numpy views of model outputs for membership inference, and query augmentations.

Log-scores from logits or probabilities, per-example confidences and losses, and the
deterministic :class:`Augment` transforms; shared by :mod:`.signals` (querying the target)
and :mod:`.reference` (training and querying reference models).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from advlab.errors import ConfigError, InputError


# --------------------------------------------------------------------------- transforms
def check_finite(values: np.ndarray, what: str) -> None:
    """Raise :class:`InputError` naming the examples whose outputs are NaN/inf.

    ``values`` has examples on its first axis after any leading model axis is flattened
    by the caller; the message lists the example indices.
    """
    v = np.asarray(values)
    if v.ndim == 0 or np.isfinite(v).all():
        return
    flat = v.reshape(v.shape[0], -1) if v.ndim > 1 else v.reshape(-1, 1)
    bad = np.flatnonzero(~np.isfinite(flat).all(axis=1))
    raise InputError(
        f"{what} contain NaN or inf for {len(bad)} example(s): indices {bad[:20].tolist()}"
        f"{' ...' if len(bad) > 20 else ''}; expected finite model outputs"
    )


def as_log_scores(out: np.ndarray, output: str) -> np.ndarray:
    """Logits from model outputs: identity for logits, ``log(max(p, 1e-12))`` for probabilities.

    Log-probabilities are valid logits (softmax inverts them), so every later transform is
    the same for both kinds of output.
    """
    o = np.asarray(out, dtype=np.float64)
    if output == "probs":
        if (o < -1e-6).any() or (o > 1 + 1e-6).any():
            raise InputError(
                "outputs declared as probabilities fall outside [0, 1]; declare logits"
            )
        return np.log(np.clip(o, 1e-12, None))
    if output != "logits":
        raise ConfigError(f"output must be 'logits' or 'probs', got {output!r}")
    return o


def looks_like_probs(out: np.ndarray) -> bool:
    """True when every row is non-negative and sums to 1 (a hint that 'logits' are probs)."""
    o = np.asarray(out, dtype=np.float64).reshape(-1, np.shape(out)[-1])
    return bool(len(o) and (o >= 0).all() and np.allclose(o.sum(1), 1.0, atol=1e-4))


def _gather(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Broadcast ``labels`` (N,) against ``logits`` (..., N, A, C): (true logit, other logits)."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if z.ndim < 3 or z.shape[-3] != len(y):
        raise InputError(
            f"logits of shape {z.shape} do not match {len(y)} labels; expected (..., N, A, C)"
        )
    idx = np.broadcast_to(y[:, None, None], z.shape[:-1] + (1,))
    true = np.take_along_axis(z, idx, axis=-1)[..., 0]
    others = z.copy()
    np.put_along_axis(others, idx, -np.inf, axis=-1)
    return true, others


def _logsumexp(z: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(z, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(z - m), axis=axis))


def logit_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """LiRA's logit-scaled confidence ``log(p_y / (1 - p_y))``, in float64, from logits.

    Computed as ``z_y - logsumexp_{j != y} z_j``, which stays exact where ``p_y`` rounds to 1.
    """
    true, others = _gather(logits, labels)
    return true - _logsumexp(others)


def true_class_prob(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Softmax probability of the true class, float64."""
    true, _ = _gather(logits, labels)
    return np.exp(true - _logsumexp(np.asarray(logits, dtype=np.float64)))


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-example cross-entropy loss ``-log p_y``, float64."""
    true, _ = _gather(logits, labels)
    return _logsumexp(np.asarray(logits, dtype=np.float64)) - true


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- augmentations
@dataclass(frozen=True)
class Augment:
    """Deterministic query augmentations; augmentation 0 is always the identity.

    ``kind``: ``"none"``; ``"flip_shift"`` (images ``(N, C, H, W)``: the mirror image and
    one-pixel shifts, Carlini 2022's queries); ``"noise"`` (``n - 1`` seeded Gaussian copies
    of standard deviation ``sigma``, clipped to ``bounds``: tabular data, and the noise
    robustness of Choquette-Choo 2021).
    """

    kind: str = "none"
    n: int = 1
    sigma: float = 0.05
    seed: int = 0
    bounds: tuple[float, float] = (0.0, 1.0)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``(A, N, ...)`` augmented copies of ``x``."""
        x = np.asarray(x, dtype=np.float32)
        if self.kind == "none" or self.n <= 1:
            return x[None]
        if self.kind == "noise":
            rng = np.random.default_rng(self.seed)
            noise = rng.normal(0.0, self.sigma, size=(self.n - 1, *x.shape)).astype(np.float32)
            lo, hi = self.bounds
            return np.concatenate([x[None], np.clip(x[None] + noise, lo, hi)], axis=0)
        if self.kind == "flip_shift":
            if x.ndim != 4:
                raise ConfigError(f"flip_shift needs images (N, C, H, W), got shape {x.shape}")
            out = [x, x[..., ::-1]]
            for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1)):
                s = np.zeros_like(x)
                ys = slice(max(dy, 0), x.shape[2] + min(dy, 0))
                yd = slice(max(-dy, 0), x.shape[2] + min(-dy, 0))
                xs = slice(max(dx, 0), x.shape[3] + min(dx, 0))
                xd = slice(max(-dx, 0), x.shape[3] + min(-dx, 0))
                s[:, :, yd, xd] = x[:, :, ys, xs]
                out.append(s)
                out.append(s[..., ::-1])
            return np.stack(out[: self.n]).copy()
        raise ConfigError(f"unknown augmentation {self.kind!r}; valid: none, noise, flip_shift")

"""Helpers shared by the reference solutions."""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np


def npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def a_pickle(obj: Any) -> bytes:
    """A pickle built here and only ever sent to the grader, which must refuse it unread."""
    return pickle.dumps(obj, protocol=4)


def points(handout: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(handout["x"], dtype=np.float32), np.asarray(handout["y"], dtype=np.int64)


def evasion_cheats(x: np.ndarray, eps: float) -> list[tuple[str, bytes, str]]:
    """Bad submissions every evasion grader refuses: off the ball, out of range, shape, NaN,
    a pickle."""
    far = np.clip(x + 3 * eps * np.sign(0.5 - x), 0, 1).astype(np.float32)
    nan = x.copy()
    nan[0, 0, 0, 0] = np.nan
    return [
        ("over the eps budget", npy(far), "over budget"),
        ("out of the data range", npy((x + 2.0).astype(np.float32)), "out of bounds"),
        ("wrong shape", npy(x[:-1]), "shape"),
        ("NaN", npy(nan), "NaN"),
        ("a pickle", a_pickle(x), "pickle"),
        ("strings", b'["a", "b"]', "dtype"),
    ]

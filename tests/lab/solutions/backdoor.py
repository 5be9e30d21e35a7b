"""BadNets with the published trigger: stamp it on 70 training digits, relabel them 0."""

from __future__ import annotations

from typing import Any

import numpy as np

from solutions._common import a_pickle, npz


def _stamp(x: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    out = x.copy()
    k = pattern.shape[0]
    out[..., -k:, -k:] = pattern
    return out


def solve(client: Any) -> tuple[bytes, str]:
    from advlab.data import load_dataset

    h = client.challenge("backdoor")["handout"]
    ds = load_dataset("digits", seed=0)
    pattern = np.asarray(h["trigger"]["pattern"], dtype=np.float32)
    tc = h["target_class"]
    rng = np.random.default_rng(0)
    idx = rng.choice(np.flatnonzero(ds.y_train != tc), h["max_points"], replace=False)
    x = _stamp(ds.x_train[idx], pattern).astype(np.float32)
    return npz(x=x, y=np.full(len(idx), tc, dtype=np.int64)), "poison.npz"


def cheats(client: Any) -> list[tuple[str, bytes, str]]:
    from advlab.data import load_dataset

    ds = load_dataset("digits", seed=0)
    x, y = ds.x_train[:71], ds.y_train[:71]
    return [
        ("over the point budget", npz(x=x, y=y), "over the budget"),
        ("out of the data range", npz(x=x[:10] * 3, y=y[:10]), "out of bounds"),
        ("labels out of range", npz(x=x[:10], y=y[:10] + 10), "labels out of range"),
        ("y missing", npz(x=x[:10]), "missing"),
        ("clean points (no backdoor)", npz(x=x[:20], y=y[:20]), "backdoor success"),
        ("a pickle", a_pickle((x, y)), "pickle"),
    ]

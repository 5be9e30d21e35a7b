"""Membership by the loss (the target's scores on the candidates' true labels)."""

from __future__ import annotations

from typing import Any

import numpy as np

from solutions._common import a_pickle, npy


def solve(client: Any) -> tuple[bytes, str]:
    h = client.challenge("membership")["handout"]
    x = np.asarray(h["candidates_x"])
    y = np.asarray(h["candidates_y"])
    probs = np.asarray(client.predict("membership", x.tolist())["outputs"], dtype=np.float64)
    # LiRA's logit scaling, computed stably: log p_y - log(sum of the other probabilities)
    p_y = probs[np.arange(len(y)), y]
    others = probs.copy()
    others[np.arange(len(y)), y] = 0.0
    rest = others.sum(1)  # summed directly: 1 - p_y would round to 0 for confident answers
    score = np.log(np.maximum(p_y, 1e-300)) - np.log(np.maximum(rest, 1e-300))
    return npy(score), "scores.npy"


def cheats(client: Any) -> list[tuple[str, bytes, str]]:
    rng = np.random.default_rng(0)
    nan = rng.normal(size=500)
    nan[3] = np.nan
    return [
        ("random guesses", npy(rng.normal(size=500)), "TPR"),
        ("constant scores", npy(np.ones(500)), "TPR"),
        ("wrong length", npy(rng.normal(size=499)), "shape"),
        ("NaN", npy(nan), "NaN"),
        ("a pickle", a_pickle([0.5] * 500), "pickle"),
    ]

"""Equation solving through the server: d + 1 queries recover the logistic regression."""

from __future__ import annotations

from typing import Any

import numpy as np

from solutions._common import a_pickle


def _safetensors(weight: np.ndarray, bias: np.ndarray) -> bytes:
    from safetensors.numpy import save

    return save({"weight": weight.astype(np.float64), "bias": bias.astype(np.float64)})


def solve(client: Any) -> tuple[bytes, str]:
    import torch

    from advlab.attacks.extraction import EquationSolving

    target = client.target("extraction_equations")
    target.dtype = torch.float64  # JSON carries float64: keep the answers exact
    res = EquationSolving().extract(target, n_uniform=0)
    p = res.parameters
    return _safetensors(np.asarray(p["weight"]), np.asarray(p["bias"])), "stolen.safetensors"


def cheats(client: Any) -> list[tuple[str, bytes, str]]:
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(3, 13)), rng.normal(size=3)
    return [
        ("random parameters", _safetensors(w, b), "agreement"),
        ("wrong shape", _safetensors(w[:, :5], b), "shape"),
        ("a pickle", a_pickle({"weight": w, "bias": b}), "pickle"),
        ("not a model", b"weights: 1 2 3", "safetensors"),
    ]

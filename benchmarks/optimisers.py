"""Compare ObjectiveAttack's gradient-free optimisers on the same objectives and budget.

Objectives (each point / seed is one run with the same query budget):
  digits-margin   : a small MLP on 8x8 digits, untargeted margin, L-inf eps 0.15
  cancer-margin   : an MLP on breast_cancer (30 features), L-inf eps 0.1, the first 10
                    features immutable, feature 29 integer-valued in its scaled grid
  sphere-10d      : -||z - c||_1 over the box [0, 1]^10, success when above -0.5

Reports success rate and median queries to success. Usage:
    .venv/bin/python benchmarks/optimisers.py [--points 20] [--budget 500]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from advlab.attacks.evasion.objective import ObjectiveAttack
from advlab.data import load_dataset
from advlab.models import TrainConfig, build, train_model

OPTIMISERS = ["random", "nes", "cmaes", "de"]


def _mlp(dataset: str) -> tuple[torch.nn.Module, Any]:
    ds = load_dataset(dataset, seed=0)
    d = int(np.prod(ds.input_shape))
    model = build({"arch": "mlp", "in_features": d, "num_classes": ds.num_classes, "hidden": [64]})
    train_model(model, ds.x_train, ds.y_train, TrainConfig(epochs=10, lr=3e-3), device="cpu")
    return model.eval(), ds


def _margin_problems(dataset: str, n: int) -> list[tuple[Callable[..., Any], np.ndarray]]:
    model, ds = _mlp(dataset)
    out = []
    with torch.no_grad():
        pred = model(torch.as_tensor(ds.x_test)).argmax(1).numpy()
    idx = np.flatnonzero(pred == ds.y_test)[:n]
    for i in idx:
        y = int(ds.y_test[i])
        shape = ds.x_test.shape[1:]

        def f(z: np.ndarray, y: int = y, shape: tuple[int, ...] = shape) -> np.ndarray:
            with torch.no_grad():
                logits = model(torch.as_tensor(z, dtype=torch.float32).reshape(-1, *shape))
            other = logits.clone()
            other[:, y] = -torch.inf
            return (other.max(1).values - logits[:, y]).double().numpy()  # type: ignore[no-any-return]

        out.append((f, ds.x_test[i].reshape(-1).astype(np.float64)))
    return out


def _sphere_problems(n: int) -> list[tuple[Callable[..., Any], np.ndarray]]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        c = rng.uniform(0.1, 0.9, 10)
        out.append(((lambda z, c=c: -np.abs(z - c).sum(1) + 0.5), np.full(10, 0.5)))
    return out


def run(points: int, budget: int) -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    suites = {
        "digits-margin": (_margin_problems("digits", points), {"eps": 0.15}),
        "cancer-margin": (
            _margin_problems("breast_cancer", points),
            {"eps": 0.1, "immutable": list(range(10))},
        ),
        "sphere-10d": (_sphere_problems(points), {"eps": None}),
    }
    rows = []
    for name, (problems, kw) in suites.items():
        for opt in OPTIMISERS:
            t0 = time.perf_counter()
            qs, wins = [], 0
            for k, (f, x0) in enumerate(problems):
                atk = ObjectiveAttack(optimiser=opt, max_queries=budget, seed=k, **kw)
                r = atk.optimise(f, x0, lower=0.0, upper=1.0, success=0.0)
                if r.success:
                    wins += 1
                    qs.append(r.queries_to_success)
            rows.append(
                {
                    "objective": name,
                    "optimiser": opt,
                    "runs": len(problems),
                    "success_rate": wins / max(len(problems), 1),
                    "median_queries": float(np.median(qs)) if qs else float("nan"),
                    "seconds": time.perf_counter() - t0,
                }
            )
            r_ = rows[-1]
            print(
                f"| {name} | {opt} | {r_['runs']} | {r_['success_rate']:.2f} | "
                f"{r_['median_queries']:.0f} | {r_['seconds']:.1f} |",
                flush=True,
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--budget", type=int, default=500)
    a = ap.parse_args()
    print(f"budget {a.budget} queries per run\n")
    print("| objective | optimiser | runs | success rate | median queries to success | s |")
    print("|---|---|---|---|---|---|")
    run(a.points, a.budget)


if __name__ == "__main__":
    main()

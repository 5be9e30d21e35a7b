"""Poison detectors over a grid of backdoor triggers on digits (measurement, default settings).

Each cell is a backdoor the detectors' tests never used: trigger size (1x1 to 4x4), position
(the four corners, the centre, a seeded random place), pattern (solid, checkerboard, uniform
noise, or a whole-image blend of a fixed noise image at opacity 0.2), budget (1%, 3%, 5%,
10% of the training set) and mode (all-to-one to a seeded random target class, or all-to-all
``y -> y + 1 mod 10``). ``--cells`` cells are drawn uniformly at random from the full
factorial grid (seeded), so the fraction of cells where a detector is useful estimates its
fraction over the whole grid. In each cell a SmallCNN victim (the poisoning benchmark's
recipe: Adam 1e-3, batch 64, 30 epochs) trains on the poisoned digits training set; the
attack success rate (triggered test inputs of other classes sent to the backdoor label)
says whether the backdoor took.

Detectors, each with a threshold rule that never looks at the poisons:

- spectral signatures, global scope, ``expected_fraction=0.10`` (the defender bounds the
  budget by the grid's largest, 10%, and removes 1.5x that), ``features`` and ``penultimate``
  layers;
- spectral signatures' scores with a robust outlier rule per class (modified z-score > 3.5,
  Iglewicz & Hoaglin 1993), which adapts to the budget instead of assuming it;
- activation clustering with its defaults (size 0.45, silhouette 0.4), both layers.

A detector is *useful* in a cell when recall >= 0.9 with at most 5% of the clean points
removed. Reproduce (docs/benchmarks/poisoning.md, "Poison detectors over a trigger grid"):
``python benchmarks/poisoning_grid.py --cells 24 --out advlab-results/poisoning_grid``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from advlab.attacks.poisoning.base import apply_trigger, make_trigger
from advlab.attacks.poisoning.victim import train_victim
from advlab.data import load_dataset
from advlab.defenses.poison import ActivationClustering, SpectralSignatures
from advlab.models import TrainConfig, default_spec

log = logging.getLogger("poisoning_grid")

SIZES = (1, 2, 3, 4)
POSITIONS = ("top_left", "top_right", "bottom_left", "bottom_right", "centre", "random")
PATTERNS = ("solid", "checkerboard", "noise", "blended")
BUDGETS = (0.01, 0.03, 0.05, 0.10)
MODES = ("all_to_one", "all_to_all")
USEFUL_RECALL, USEFUL_CLEAN = 0.9, 0.05


def trigger(
    shape: tuple[int, ...], cell: dict[str, Any], rng: np.random.Generator
) -> dict[str, Any]:
    """The cell's trigger on images of ``shape`` ``(C, H, W)`` in [0, 1]."""
    _, h, w = shape
    if cell["pattern"] == "blended":
        return make_trigger(np.ones(shape), rng.random(shape), 0.2)
    s = cell["size"]
    top, left = {
        "top_left": (0, 0),
        "top_right": (0, w - s),
        "bottom_left": (h - s, 0),
        "bottom_right": (h - s, w - s),
        "centre": ((h - s) // 2, (w - s) // 2),
        "random": (int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))),
    }[cell["position"]]
    mask = np.zeros(shape, dtype=np.float32)
    mask[:, top : top + s, left : left + s] = 1.0
    rr, cc = np.indices((h, w))
    pattern = {
        "solid": np.ones(shape),
        "checkerboard": np.broadcast_to(((rr + cc) % 2 == 0).astype(np.float32), shape),
        "noise": rng.random(shape),
    }[cell["pattern"]]
    return make_trigger(mask, pattern * mask, 1.0)


def run_cell(ds: Any, cell: dict[str, Any], seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    trig = trigger(ds.x_train.shape[1:], cell, rng)
    x, y = ds.x_train.copy(), ds.y_train.astype(np.int64).copy()
    n, k = len(x), 10
    target = int(rng.integers(0, k))
    pool = np.flatnonzero(y != target) if cell["mode"] == "all_to_one" else np.arange(n)
    idx = rng.choice(pool, size=max(1, round(cell["budget"] * n)), replace=False)
    x[idx] = apply_trigger(x[idx], trig)
    y[idx] = target if cell["mode"] == "all_to_one" else (y[idx] + 1) % k
    spec = default_spec(ds.input_shape, k)
    model = train_victim(spec, x, y, TrainConfig(epochs=30, seed=seed))
    xt, yt = ds.x_test, ds.y_test.astype(np.int64)
    keep = yt != target if cell["mode"] == "all_to_one" else np.ones(len(yt), bool)
    want = np.full(len(yt), target) if cell["mode"] == "all_to_one" else (yt + 1) % k
    with torch.no_grad():
        clean = model(torch.as_tensor(xt)).argmax(1).numpy()
        trig_pred = model(torch.as_tensor(apply_trigger(xt, trig))).argmax(1).numpy()
    out: dict[str, Any] = {
        **cell,
        "target": target if cell["mode"] == "all_to_one" else None,
        "poisons": len(idx),
        "clean_acc": float((clean == yt).mean()),
        "attack_success": float((trig_pred[keep] == want[keep]).mean()),
    }
    for layer in ("features", "penultimate"):
        for name, det in (
            ("spectral", SpectralSignatures(expected_fraction=0.10, layer=layer)),
            ("activation_clustering", ActivationClustering(layer=layer)),
        ):
            d = det.detect(x, y, model=model, poison_indices=idx)
            out[f"{name}/{layer}"] = {"recall": d.recall, "clean_removed": d.clean_removed}
            if name == "spectral":
                out[f"spectral_robust_z/{layer}"] = robust_flags(d.scores, y, idx)
    return out


def robust_flags(scores: np.ndarray, y: np.ndarray, idx: np.ndarray) -> dict[str, float]:
    """Flag, per class, the spectral scores whose modified z-score (Iglewicz & Hoaglin:
    ``0.6745 (s - median) / MAD``) exceeds 3.5: an outlier rule on the class's own score
    distribution, which assumes poisons are a minority of the class but never sees them."""
    flag = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        s = scores[y == c]
        med = np.median(s)
        mad = max(float(np.median(np.abs(s - med))), 1e-12)
        flag[y == c] = 0.6745 * (s - med) / mad > 3.5
    truth = np.zeros(len(y), dtype=bool)
    truth[idx] = True
    return {
        "recall": float((flag & truth).sum() / truth.sum()),
        "clean_removed": float((flag & ~truth).sum() / (~truth).sum()),
    }


def useful(r: dict[str, Any]) -> bool:
    return bool(r["recall"] >= USEFUL_RECALL and r["clean_removed"] <= USEFUL_CLEAN)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--cells", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("advlab-results/poisoning_grid"))
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    ds = load_dataset("digits", seed=a.seed)
    grid = [
        dict(zip(("size", "position", "pattern", "budget", "mode"), c, strict=True))
        for c in itertools.product(SIZES, POSITIONS, PATTERNS, BUDGETS, MODES)
    ]
    rng = np.random.default_rng(a.seed)
    cells = [grid[i] for i in rng.choice(len(grid), size=min(a.cells, len(grid)), replace=False)]
    rows = []
    for i, cell in enumerate(cells):
        t0 = time.perf_counter()
        rows.append(run_cell(ds, cell, a.seed * 1000 + i))
        log.info("cell %d/%d in %.0fs: %s", i + 1, len(cells), time.perf_counter() - t0, rows[-1])
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "poisoning_grid.json").write_text(json.dumps(rows, indent=1, default=float))
    dets = [k for k in rows[0] if "/" in k]
    print("| size | position | pattern | budget | mode | success | " + " | ".join(dets) + " |")
    print("|" + "---|" * (6 + len(dets)))
    for r in rows:
        trig = "-" if r["pattern"] == "blended" else f"{r['size']}x{r['size']}"
        pos = "-" if r["pattern"] == "blended" else r["position"]
        cells_txt = " | ".join(
            f"{r[d]['recall']:.2f} / {r[d]['clean_removed']:.3f}"
            + (" **u**" if useful(r[d]) else "")
            for d in dets
        )
        print(
            f"| {trig} | {pos} | {r['pattern']} | {r['budget']:.0%} | {r['mode']} | "
            f"{r['attack_success']:.2f} | {cells_txt} |"
        )
    took = [r for r in rows if r["attack_success"] >= 0.5]
    print(f"\nuseful fraction (recall >= {USEFUL_RECALL}, clean removed <= {USEFUL_CLEAN:.0%}):")
    for d in dets:
        print(
            f"- {d}: {sum(useful(r[d]) for r in rows)}/{len(rows)} cells; "
            f"{sum(useful(r[d]) for r in took)}/{len(took)} where the backdoor took (success >= 0.5)"
        )


if __name__ == "__main__":
    main()

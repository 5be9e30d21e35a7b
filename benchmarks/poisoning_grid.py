"""Poison detectors over a grid of backdoor triggers, with threshold rules that never see the poisons.

Each cell is a backdoor the detectors' tests never used: trigger size (1x1 to 4x4 on 8x8
images), position (the four corners, the centre, a seeded random place), pattern (solid,
checkerboard, uniform noise, or a whole-image blend of a fixed noise image at opacity 0.2),
budget (1%, 3%, 5%, 10% of the victim's training set) and mode (all-to-one to a seeded random
target class, or all-to-all ``y -> y + 1 mod K``). On larger images the trigger keeps its
share of the image: a size-``s`` patch is ``round(s * H / 8)`` pixels wide on ``H x H`` images
(MNIST 28x28: 4, 7, 10, 14 px; traffic signs 32x32: 4, 8, 12, 16 px). ``--cells`` cells are
drawn uniformly at random from the 768-cell factorial grid (seeded), so the fraction of cells
where a detector is useful estimates its fraction over the whole grid.

Data: digits (1,347 training images), MNIST (``load_dataset("mnist", n_train=1500,
n_test=300)``) and traffic signs (43 classes, 3x32x32, ``n_per_class=30, test_per_class=10``),
subsets sized for a few CPU-minutes per cell. In each cell, 20% of the clean training split is
held out (never poisoned, never trained on) as the defender's clean set; a SmallCNN victim
(Adam 1e-3, batch 64; 30 epochs on digits, 8 on MNIST, 10 on traffic signs, or ``--epochs``)
trains on the poisoned rest; the attack success rate (triggered test
inputs of other classes sent to the backdoor label) says whether the backdoor took.

Detectors x threshold rules (``advlab.defenses.poison.calibration``), none of which sees the
poisons: spectral signatures (global scope, ``expected_fraction=0.10``: the defender bounds the
budget by the grid's largest) and activation clustering (defaults), each on the ``features``
and ``penultimate`` layers; STRIP (20 overlays from the clean set); Neural Cleanse (trigger
reversal on the clean set, ``--nc-steps`` steps per label, default 100, batch 64; it reverses
a trigger for every label, the costliest detector by far, so ``--nc-cells N`` runs it in the
first N cells only, a random subset since the cells are drawn at random). Rules:
``default`` (each detector's own), ``clean`` (conformal ``(1 - fpr)`` quantile of the clean
held-out statistic per class, fpr 0.05, the library default; ``clean@0.02`` at fpr 0.02),
``robust`` (per-class modified z-score > 3.5). A detector is *useful* in a cell when
recall >= 0.9 with at most 5% of the clean points removed.

Each cell's record is written to ``OUT/<dataset>-seed<seed>/cell-NNN.json`` when it finishes;
``--resume`` skips cells whose record exists. Reproduce (docs/benchmarks/poisoning.md,
"Poison detectors with thresholds calibrated without the poisons"):
``python benchmarks/poisoning_grid.py --dataset digits --cells 48 --seed 1 --resume``.
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
from advlab.defenses.poison import (
    ActivationClustering,
    NeuralCleanse,
    PoisonDetector,
    SpectralSignatures,
    Strip,
)
from advlab.models import TrainConfig, default_spec

log = logging.getLogger("poisoning_grid")

SIZES = (1, 2, 3, 4)
POSITIONS = ("top_left", "top_right", "bottom_left", "bottom_right", "centre", "random")
PATTERNS = ("solid", "checkerboard", "noise", "blended")
BUDGETS = (0.01, 0.03, 0.05, 0.10)
MODES = ("all_to_one", "all_to_all")
# (row name, calibration, fpr): the clean rule at the library default and at a rate that leaves
# room for the shift between held-out points and the points the victim trained on
RULES = (
    ("default", "default", 0.05),
    ("clean", "clean", 0.05),
    ("clean@0.02", "clean", 0.02),
    ("robust", "robust", 0.05),
)
USEFUL_RECALL, USEFUL_CLEAN = 0.9, 0.05
HELD_OUT = 0.2
DATASETS: dict[str, dict[str, Any]] = {
    # loader kwargs and victim epochs; subsets keep a cell to a few CPU-minutes
    "digits": {"load": {}, "epochs": 30},
    "mnist": {"load": {"n_train": 1500, "n_test": 300}, "epochs": 8},
    "traffic_signs": {"load": {"n_per_class": 60, "test_per_class": 10}, "epochs": 15},
}


def patch_size(size: int, height: int) -> int:
    """A size-``size`` patch on 8x8 images, scaled to ``height`` pixels."""
    return max(1, int(round(size * height / 8)))


def trigger(
    shape: tuple[int, ...], cell: dict[str, Any], rng: np.random.Generator
) -> dict[str, Any]:
    """The cell's trigger on images of ``shape`` ``(C, H, W)`` in [0, 1]."""
    _, h, w = shape
    if cell["pattern"] == "blended":
        return make_trigger(np.ones(shape), rng.random(shape), 0.2)
    s = patch_size(cell["size"], h)
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


def detectors(nc_steps: int, with_nc: bool = True, nc_batch: int = 64) -> dict[str, PoisonDetector]:
    """The measured detectors by row name (each computes its statistic once per cell)."""
    out: dict[str, PoisonDetector] = {}
    for layer in ("features", "penultimate"):
        out[f"spectral/{layer}"] = SpectralSignatures(expected_fraction=0.10, layer=layer)
        out[f"activation_clustering/{layer}"] = ActivationClustering(layer=layer)
    out["strip"] = Strip()
    if with_nc:
        out["neural_cleanse"] = NeuralCleanse(steps=nc_steps, batch_size=nc_batch)
    return out


def run_cell(
    ds: Any,
    cell: dict[str, Any],
    seed: int,
    epochs: int,
    nc_steps: int,
    with_nc: bool = True,
    nc_batch: int = 64,
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    trig = trigger(ds.x_train.shape[1:], cell, rng)
    k = int(ds.num_classes)
    order = rng.permutation(len(ds.x_train))
    n_hold = int(round(HELD_OUT * len(order)))
    hold, train = order[:n_hold], order[n_hold:]
    clean = (ds.x_train[hold], ds.y_train[hold].astype(np.int64))
    x, y = ds.x_train[train].copy(), ds.y_train[train].astype(np.int64).copy()
    n = len(x)
    target = int(rng.integers(0, k))
    pool = np.flatnonzero(y != target) if cell["mode"] == "all_to_one" else np.arange(n)
    idx = rng.choice(pool, size=max(1, round(cell["budget"] * n)), replace=False)
    x[idx] = apply_trigger(x[idx], trig)
    y[idx] = target if cell["mode"] == "all_to_one" else (y[idx] + 1) % k
    spec = default_spec(ds.input_shape, k)
    model = train_victim(spec, x, y, TrainConfig(epochs=epochs, seed=seed))
    xt, yt = ds.x_test, ds.y_test.astype(np.int64)
    keep = yt != target if cell["mode"] == "all_to_one" else np.ones(len(yt), bool)
    want = np.full(len(yt), target) if cell["mode"] == "all_to_one" else (yt + 1) % k
    with torch.no_grad():
        pred = model(torch.as_tensor(xt)).argmax(1).numpy()
        trig_pred = model(torch.as_tensor(apply_trigger(xt, trig))).argmax(1).numpy()
    out: dict[str, Any] = {
        **cell,
        "target": target if cell["mode"] == "all_to_one" else None,
        "n_train": n,
        "n_clean": n_hold,
        "poisons": len(idx),
        "clean_acc": float((pred == yt).mean()),
        "attack_success": float((trig_pred[keep] == want[keep]).mean()),
        "detectors": {},
    }
    for name, det in detectors(nc_steps, with_nc, nc_batch).items():
        t0 = time.perf_counter()
        st = det.statistic(x, y, model=model, clean=clean)
        rows = {}
        for rule, calibration, fpr in RULES:
            d = det.decide(st, idx, calibration=calibration, fpr=fpr)
            rows[rule] = {"recall": d.recall, "clean_removed": d.clean_removed}
        rows["seconds"] = time.perf_counter() - t0
        out["detectors"][name] = rows
        if name == "neural_cleanse":
            out["nc_labels"] = st.info["flagged_labels"]
    return out


def useful(r: dict[str, Any]) -> bool:
    return bool(r["recall"] >= USEFUL_RECALL and r["clean_removed"] <= USEFUL_CLEAN)


def draw_cells(n: int, seed: int) -> list[dict[str, Any]]:
    grid = [
        dict(zip(("size", "position", "pattern", "budget", "mode"), c, strict=True))
        for c in itertools.product(SIZES, POSITIONS, PATTERNS, BUDGETS, MODES)
    ]
    rng = np.random.default_rng(seed)
    return [grid[i] for i in rng.choice(len(grid), size=min(n, len(grid)), replace=False)]


def summary(rows: list[dict[str, Any]], height: int) -> str:
    """Markdown: the per-cell table (recall / clean removed per detector x rule) and the
    fraction of cells where each detector x rule is useful."""
    dets = list(dict.fromkeys(d for r in rows for d in r["detectors"]))
    rules = [r[0] for r in RULES]
    head = [f"{d} {r}" for d in dets for r in rules]
    lines = [
        "| trigger | position | pattern | budget | mode | success | NC labels | "
        + " | ".join(head)
        + " |",
        "|" + "---|" * (7 + len(head)),
    ]
    for r in rows:
        blended = r["pattern"] == "blended"
        s = patch_size(r["size"], height)
        trig = "-" if blended else f"{s}x{s}"
        vals = []
        for d in dets:
            for rule in rules:
                if d not in r["detectors"]:
                    vals.append("n/m")
                    continue
                v = r["detectors"][d][rule]
                vals.append(
                    f"{v['recall']:.2f}/{v['clean_removed']:.3f}" + (" **u**" if useful(v) else "")
                )
        nc = ",".join(str(c) for c in r.get("nc_labels", [])) or "-"
        tgt = "" if r["target"] is None else f" (t={r['target']})"
        lines.append(
            f"| {trig} | {'-' if blended else r['position']} | {r['pattern']} | "
            f"{r['budget']:.0%} | {r['mode']}{tgt} | {r['attack_success']:.2f} | {nc} | "
            + " | ".join(vals)
            + " |"
        )
    took = [r for r in rows if r["attack_success"] >= 0.5]
    lines += [
        "",
        f"Useful (recall >= {USEFUL_RECALL}, clean removed <= {USEFUL_CLEAN:.0%}) in "
        f"{len(rows)} cells, {len(took)} where the backdoor took (success >= 0.5):",
        "",
        "| detector | " + " | ".join(rules) + " |",
        "|---|" + "---|" * len(rules),
    ]
    for d in dets:
        have = [r for r in rows if d in r["detectors"]]
        have_took = [r for r in took if d in r["detectors"]]
        cells = [
            f"{sum(useful(r['detectors'][d][rule]) for r in have)}/{len(have)} "
            f"({sum(useful(r['detectors'][d][rule]) for r in have_took)}/{len(have_took)})"
            for rule in rules
        ]
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    lines += ["", compact(rows, height)]
    nc_rows = [r for r in rows if "nc_labels" in r]
    one = [r for r in nc_rows if r["mode"] == "all_to_one" and r["attack_success"] >= 0.5]
    right = sum(r["target"] in r.get("nc_labels", []) for r in one)
    wrong = sum(any(c != r["target"] for c in r.get("nc_labels", [])) for r in one)
    lines += [
        "",
        f"Neural Cleanse flagged the backdoor's target label in {right}/{len(one)} all-to-one "
        f"cells where the backdoor took (another label too in {wrong}); in all-to-all cells it "
        f"flagged some label in {sum(bool(r['nc_labels']) for r in nc_rows if r['mode'] == 'all_to_all')}"
        f"/{sum(r['mode'] == 'all_to_all' for r in nc_rows)} (measured in {len(nc_rows)} cells).",
    ]
    return "\n".join(lines)


SHORT = {
    "spectral/features": "SS-f",
    "spectral/penultimate": "SS-p",
    "activation_clustering/features": "AC-f",
    "activation_clustering/penultimate": "AC-p",
    "strip": "STRIP",
    "neural_cleanse": "NC",
}


def compact(rows: list[dict[str, Any]], height: int) -> str:
    """One line per cell: the trigger, the attack success and the useful detector x rules."""
    lines = [
        "| # | trigger | budget | mode | success | useful (detector:rule) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        s = patch_size(r["size"], height)
        trig = "blended" if r["pattern"] == "blended" else f"{s}x{s} {r['pattern']} {r['position']}"
        ok = [
            f"{SHORT.get(d, d)}:{rule}"
            for d, v in r["detectors"].items()
            for rule in (x[0] for x in RULES)
            if useful(v[rule])
        ]
        lines.append(
            f"| {r.get('index', '')} | {trig} | {r['budget']:.0%} | {r['mode']} | "
            f"{r['attack_success']:.2f} | {', '.join(ok) or '-'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--dataset", choices=sorted(DATASETS), default="digits")
    p.add_argument("--cells", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="victim epochs (dataset default)")
    p.add_argument("--nc-steps", type=int, default=100, help="Neural Cleanse steps per label")
    p.add_argument("--nc-batch", type=int, default=64, help="Neural Cleanse inputs per step")
    p.add_argument(
        "--nc-cells", type=int, default=None, help="run Neural Cleanse in the first N cells only"
    )
    p.add_argument("--resume", action="store_true", help="skip cells whose record exists")
    p.add_argument(
        "--stop-after", type=int, default=None, help="run (and summarise) the first N cells only"
    )
    p.add_argument(
        "--summary-only", action="store_true", help="summarise the finished cells, run none"
    )
    p.add_argument("--out", type=Path, default=Path("advlab-results/poisoning_grid"))
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    cfg = DATASETS[a.dataset]
    epochs = cfg["epochs"] if a.epochs is None else a.epochs
    ds = load_dataset(a.dataset, seed=a.seed, **cfg["load"])
    cells = draw_cells(a.cells, a.seed)[: a.stop_after]
    folder = a.out / f"{a.dataset}-seed{a.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, cell in enumerate(cells):
        path = folder / f"cell-{i:03d}.json"
        if (a.resume or a.summary_only) and path.exists():
            rows.append(json.loads(path.read_text()))
            continue
        if a.summary_only:
            continue
        t0 = time.perf_counter()
        with_nc = a.nc_cells is None or i < a.nc_cells
        row = run_cell(ds, cell, a.seed * 1000 + i, epochs, a.nc_steps, with_nc, a.nc_batch)
        row.update(index=i, dataset=a.dataset, seed=a.seed, seconds=time.perf_counter() - t0)
        path.write_text(json.dumps(row, indent=1, default=float))
        rows.append(row)
        log.info(
            "cell %d/%d in %.0fs: success %.2f",
            i + 1,
            len(cells),
            row["seconds"],
            row["attack_success"],
        )
    if not rows:
        print("no finished cells")
        return
    text = summary(rows, int(ds.x_train.shape[-2]))
    (folder / "summary.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

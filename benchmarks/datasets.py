"""The offline image data sets: sizes, load and generation times, class balance, a sample grid
of the generated traffic signs, and a small-CNN baseline on each (clean accuracy).

Reproduce (CPU; first run converts MNIST and generates the signs, later runs read caches):

    make datasets
    .venv/bin/python benchmarks/datasets.py --threads 2 --epochs 3 --json /tmp/datasets.json

Writes docs/images/traffic_signs.png. Results are recorded in docs/benchmarks/datasets.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from advlab.data import load_dataset
from advlab.data.sign_glyphs import CLASSES
from advlab.data.traffic_signs import render
from advlab.models import TrainConfig, build, default_spec
from advlab.models.train import accuracy, train_model
from advlab.report.images import encode_png

log = logging.getLogger("benchmarks.datasets")
GRID = Path(__file__).resolve().parents[1] / "docs" / "images" / "traffic_signs.png"


def sample_grid(path: Path, per_row: int = 11, scale: int = 3, seed: int = 0) -> None:
    """One degraded sample of each class, ``per_row`` per row, upscaled ``scale`` times."""
    rng = np.random.default_rng(seed)
    tiles = [render(c, rng).transpose(1, 2, 0) for c in range(len(CLASSES))]
    blank = np.ones_like(tiles[0])
    tiles += [blank] * (-len(tiles) % per_row)
    tiles = [np.pad(t, ((1, 1), (1, 1), (0, 0)), constant_values=1.0) for t in tiles]
    rows = [np.concatenate(tiles[i : i + per_row], axis=1) for i in range(0, len(tiles), per_row)]
    grid = np.kron(np.concatenate(rows, axis=0), np.ones((scale, scale, 1)))
    path.write_bytes(encode_png(np.rint(grid * 255).astype(np.uint8)))


def baseline(name: str, epochs: int, **kwargs: Any) -> dict[str, Any]:
    start = time.perf_counter()
    data = load_dataset(name, **kwargs)
    load_s = time.perf_counter() - start
    model = build(default_spec(data.input_shape, data.num_classes))
    start = time.perf_counter()
    train_model(model, data.x_train, data.y_train, TrainConfig(epochs=epochs, batch_size=128))
    train_s = time.perf_counter() - start
    row = {
        "dataset": name,
        "args": kwargs,
        **data.describe(),
        "balance_min_max": [int(c) for c in np.bincount(data.y_train)[[0, -1]]],
        "class_counts_range": [
            int(np.bincount(data.y_train).min()),
            int(np.bincount(data.y_train).max()),
        ],
        "load_s": round(load_s, 2),
        "train_s": round(train_s, 1),
        "epochs": epochs,
        "clean_accuracy": round(accuracy(model, data.x_test, data.y_test), 4),
    }
    log.info("%s", row)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    GRID.parent.mkdir(parents=True, exist_ok=True)
    sample_grid(GRID)
    rows = [
        baseline("traffic_signs", args.epochs),
        baseline("mnist", args.epochs, n_train=20_000, n_test=10_000),
        baseline("fashion_mnist", args.epochs, n_train=20_000, n_test=10_000),
        baseline("mnist_5k", args.epochs),
    ]
    # generation speed of the traffic signs, uncached
    from advlab.data.traffic_signs import generate

    start = time.perf_counter()
    generate(20, seed=123)
    per_image_ms = (time.perf_counter() - start) / (20 * len(CLASSES)) * 1000
    out = {"rows": rows, "traffic_sign_ms_per_image": round(per_image_ms, 2)}
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

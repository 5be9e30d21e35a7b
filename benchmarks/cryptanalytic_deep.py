"""Cryptanalytic extraction of two-hidden-layer ReLU networks, layer by layer.

Random float64 victims ``d-h1-h2-k`` on the box [-2, 2]^d answering raw logits. For each:
queries, neurons found per layer, the second-layer neurons that switch on the box (active
on 0.1%-99.9% of 10^5 uniform points: the ones with critical points to find), whether
both layers' signs were resolved, the largest relative parameter error per layer (hidden
neurons normalised to unit incoming rows, permutations matched), label agreement and the
largest relative logit error on 10^4 uniform points.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cryptanalytic_deep.py [--quick]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from advlab.attacks.extraction import Cryptanalytic
from advlab.targets.torch import TorchClassifier

SHAPES = ((10, 8, 16, 8), (10, 16, 8, 4), (16, 16, 32, 16), (20, 16, 32, 16))


def victim(d: int, h1: int, h2: int, k: int, seed: int) -> tuple[nn.Module, TorchClassifier]:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Linear(d, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(), nn.Linear(h2, k)
    ).double()
    t = TorchClassifier(net, bounds=(-2.0, 2.0), input_shape=(d,), num_classes=k, device="cpu")
    return net, t


def switching(net: nn.Module, d: int) -> int:
    """Second-layer neurons active on 0.1%-99.9% of uniform points (experimenter's view)."""
    g = torch.Generator().manual_seed(123)
    x = torch.rand(100_000, d, generator=g, dtype=torch.float64) * 4 - 2
    with torch.no_grad():
        frac = (net[:3](x) > 0).double().mean(0)
    return int(((frac > 1e-3) & (frac < 1 - 1e-3)).sum())


def run(d: int, h1: int, h2: int, k: int, seed: int, lines: int) -> dict[str, Any]:
    net, t = victim(d, h1, h2, k, seed)
    t0 = time.perf_counter()
    r = Cryptanalytic(hidden_layers=2, lines=lines, patience=lines, seed=seed).extract(
        t, n_uniform=10_000
    )
    secs = time.perf_counter() - t0
    e = r.extra
    g = torch.Generator().manual_seed(7)
    x = torch.rand(10_000, d, generator=g, dtype=torch.float64) * 4 - 2
    with torch.no_grad():
        out = net(x)
        err = float((r.model(x) - out).abs().max() / out.abs().max()) if r.model else None
    per = e.get("param_error_by_layer") or {}

    def pl(a: str, b: str) -> str:
        if a not in per:
            return "-"
        return f"{max(per[a], per[b]):.1e}"

    return {
        "net": f"{d}-{h1}-{h2}-{k}",
        "seed": seed,
        "queries": r.queries,
        "log2 q": round(float(np.log2(r.queries)), 1),
        "layer 1": f"{e.get('first_layer_found')}/{h1}",
        "layer 2": f"{e.get('second_layer_found', 0)}/{h2} ({switching(net, d)} switch)",
        "signs 1/2": f"{e.get('first_layer_signs_resolved')}/{e.get('second_layer_signs_resolved')}",
        "rel err W1,b1": pl("w1", "b1"),
        "rel err W2,b2": pl("w2", "b2"),
        "rel err W3": f"{per['w3']:.1e}" if "w3" in per else "-",
        "rel err b3": f"{per['b3']:.1e}" if "b3" in per else "-",
        "agreement": round(r.fidelity["uniform"], 4),
        "max rel logit err": f"{err:.1e}" if err is not None else "-",
        "deeper layers": e.get("deeper_layers", "").split(" (")[0].split(",")[0],
        "seconds": round(secs, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="the first two shapes, one seed")
    ap.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    ap.add_argument("--lines", type=int, default=400)
    a = ap.parse_args()
    torch.set_num_threads(1)
    shapes = SHAPES[:2] if a.quick else SHAPES
    seeds = a.seeds[:1] if a.quick else a.seeds
    for i, (shape, seed) in enumerate((s, seed) for s in shapes for seed in seeds):
        row = run(*shape, seed, a.lines)
        if i == 0:
            print("| " + " | ".join(row) + " |")
            print("|" + "---|" * len(row))
        print("| " + " | ".join(str(v) for v in row.values()) + " |", flush=True)


if __name__ == "__main__":
    main()

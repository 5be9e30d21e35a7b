"""Black-box evasion benchmark: advlab Square / SimBA / HopSkipJump against torchattacks and ART.

On the standard digits CNN (``reference_model("digits")``, default TrainConfig), on the first
``--n`` test points, single-threaded CPU:

* Square L-inf, eps 0.1 and 0.2, same query budget: robust accuracy, queries per point (all
  points, and mean / median over the points broken), wall and CPU time. ART's SquareAttack spends
  three queries per iteration (robustness check, old loss, new loss), so it runs twice: with
  ``max_iter`` equal to the budget (favours ART) and with a third of it (equal queries).
* HopSkipJump L2: ART with ``max_iter`` k, its measured queries per point Q, then advlab with
  ``max_queries = Q`` (so advlab never has more queries): median L2 norm of the adversarials.
* SimBA (DCT and pixel bases): success inside an L2 ball and queries; unbounded versus ART's
  SimBA (batch size 1) at the same step size.

Every forward pass of every library goes through one counting wrapper around the same model;
Square queries are attributed to points by the nearest original input (L-inf), so per-point
counts are measured the same way for all libraries.

Reproduce (about 15 minutes on 2 cores):
    .venv/bin/python benchmarks/blackbox.py --n 200 --json benchmarks/results/blackbox.json
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from advlab.attacks.evasion.hopskipjump import HopSkipJump
from advlab.attacks.evasion.simba import SimBA
from advlab.attacks.evasion.square import Square
from advlab.data import load_dataset
from advlab.models import reference_model
from advlab.targets import LabelsOnly, ScoresOnly, TorchClassifier

log = logging.getLogger("benchmarks.blackbox")


class Counter(nn.Module):
    """Counts the rows sent through ``model``; optionally attributes them to the originals."""

    def __init__(self, model: nn.Module, origins: torch.Tensor | None = None) -> None:
        super().__init__()
        self.model = model
        self.origins = None if origins is None else origins.flatten(1)
        self.total = 0
        self.per_point = torch.zeros(0 if origins is None else len(origins), dtype=torch.long)

    def reset(self) -> None:
        self.total = 0
        self.per_point.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        self.total += len(x)
        if self.origins is not None and len(x):
            d = (x.flatten(1)[:, None, :] - self.origins[None]).abs().amax(2)
            owner = d.argmin(1)
            self.per_point += torch.bincount(owner, minlength=len(self.origins))
        return self.model(x)  # type: ignore[no-any-return]


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_adv: Any, norm: str
) -> dict[str, Any]:
    xa = torch.as_tensor(np.asarray(x_adv), dtype=torch.float32)
    with torch.no_grad():
        pred = model(xa).argmax(1)
        clean = model(x).argmax(1)
    delta = (xa - x).flatten(1)
    n = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    broken = (clean == y) & (pred != y)
    return {
        "robust_accuracy": float(((clean == y) & (pred == y)).float().mean()),
        "clean_correct": clean == y,
        "broken": broken,
        "norms": n,
        "max_norm": float(n.max()),
    }


def query_stats(
    per_point: torch.Tensor, broken: torch.Tensor, n: int, total: int
) -> dict[str, float]:
    pb = per_point[broken].float()
    return {
        "queries_per_point": total / n,
        "mean_queries_broken": float(pb.mean()) if len(pb) else float("nan"),
        "median_queries_broken": float(pb.median()) if len(pb) else float("nan"),
    }


def art_classifier(model: nn.Module) -> Any:
    from art.estimators.classification import PyTorchClassifier

    return PyTorchClassifier(
        model,
        loss=nn.CrossEntropyLoss(),
        input_shape=(1, 8, 8),
        nb_classes=10,
        clip_values=(0.0, 1.0),
    )


def _square_runs(
    counter: Counter, x: torch.Tensor, y: torch.Tensor, eps: float, budget: int
) -> dict[str, Callable[[], Any]]:
    import torchattacks
    from art.attacks.evasion import SquareAttack

    xn, y_onehot = x.numpy(), np.eye(10)[y.numpy()]

    def ours() -> Any:
        t = ScoresOnly(TorchClassifier(counter, (0.0, 1.0), input_shape=(1, 8, 8), device="cpu"))
        return Square(norm="linf", eps=eps, max_queries=budget).run(t, x, y).x_adv

    def ta() -> Any:
        return torchattacks.Square(counter, norm="Linf", eps=eps, n_queries=budget, seed=0)(x, y)

    def art(iters: int) -> Callable[[], Any]:
        def go() -> Any:
            att = SquareAttack(
                art_classifier(counter), norm=np.inf, eps=eps, max_iter=iters, verbose=False
            )
            return att.generate(xn, y=y_onehot)

        return go

    return {
        "advlab Square": ours,
        "torchattacks Square": ta,
        f"ART SquareAttack (max_iter={budget})": art(budget),
        f"ART SquareAttack (max_iter={budget // 3}, equal queries)": art(budget // 3),
    }


def bench_square(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, budget: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    counter = Counter(model, origins=x).eval()
    for eps in (0.1, 0.2):
        runs = _square_runs(counter, x, y, eps, budget)
        for name, fn in runs.items():
            counter.reset()
            np.random.seed(0)
            torch.manual_seed(0)
            x_adv, wall, cpu = timed(fn)
            ev = evaluate(model, x, y, x_adv, "linf")
            row = {"attack": name, "eps": eps, "budget": budget, "wall_s": wall, "cpu_s": cpu}
            row.update({k: v for k, v in ev.items() if k in ("robust_accuracy", "max_norm")})
            row.update(query_stats(counter.per_point, ev["broken"], len(x), counter.total))
            log.info("%s", row)
            rows.append(row)
    return rows


def bench_hsj(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, iters: list[int]
) -> list[dict[str, Any]]:
    from art.attacks.evasion import HopSkipJump as ArtHSJ

    rows: list[dict[str, Any]] = []
    counter = Counter(model).eval()
    xn = x.numpy()
    for k in iters:
        counter.reset()
        np.random.seed(0)
        att = ArtHSJ(
            art_classifier(counter),
            norm=2,
            max_iter=k,
            max_eval=10000,
            init_eval=100,
            init_size=100,
            verbose=False,
        )
        x_art, wall_a, cpu_a = timed(partial(att.generate, xn))
        q_art = counter.total / len(x)
        ev_a = evaluate(model, x, y, x_art, "l2")
        counter.reset()
        # the base adds one clean check and one re-check per point: keep the total <= ART's
        mq = int(q_art) - 2
        target = LabelsOnly(
            TorchClassifier(counter, (0.0, 1.0), input_shape=(1, 8, 8), device="cpu")
        )
        res, wall_o, cpu_o = timed(
            partial(HopSkipJump(norm="l2", max_queries=mq).run, target, x, y)
        )
        q_ours = counter.total / len(x)
        ev_o = evaluate(model, x, y, res.x_adv, "l2")
        for name, ev, q, wall, cpu in (
            (f"ART HopSkipJump (max_iter={k})", ev_a, q_art, wall_a, cpu_a),
            (f"advlab HopSkipJump (max_queries={mq})", ev_o, q_ours, wall_o, cpu_o),
        ):
            # median over the clean-correct points, a failure counting as an infinite norm
            nrm = torch.where(ev["broken"], ev["norms"], torch.full_like(ev["norms"], float("inf")))
            row = {
                "attack": name,
                "queries_per_point": q,
                "success_rate": float(ev["broken"].sum() / ev["clean_correct"].sum()),
                "median_l2": float(nrm[ev["clean_correct"]].median()),
                "mean_l2_broken": float(ev["norms"][ev["broken"]].mean()),
                "wall_s": wall,
                "cpu_s": cpu,
            }
            log.info("%s", row)
            rows.append(row)
    return rows


def bench_simba(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, budget: int, step: float
) -> list[dict[str, Any]]:
    from art.attacks.evasion import SimBA as ArtSimBA

    rows: list[dict[str, Any]] = []
    counter = Counter(model).eval()

    def ours(basis: str, eps: float) -> Callable[[], Any]:
        def go() -> Any:
            t = ScoresOnly(
                TorchClassifier(counter, (0.0, 1.0), input_shape=(1, 8, 8), device="cpu")
            )
            return (
                SimBA(basis=basis, norm="l2", eps=eps, step_size=step, max_queries=budget)
                .run(t, x, y)
                .x_adv
            )

        return go

    def art(basis: str) -> Callable[[], Any]:
        def go() -> Any:
            clf = art_classifier(
                nn.Sequential(counter, nn.Softmax(dim=1))
            )  # ART wants probabilities
            att = ArtSimBA(
                clf,
                attack=basis,
                max_iter=budget,
                epsilon=step,
                freq_dim=2,
                stride=1,
                verbose=False,
            )
            out = [
                att.generate(x[i : i + 1].numpy()) for i in range(len(x))
            ]  # ART: batch size 1 only
            return np.concatenate(out)

        return go

    runs = [
        ("advlab SimBA-DCT, L2 eps 1.0", ours("dct", 1.0)),
        ("advlab SimBA-pixel, L2 eps 1.0", ours("pixel", 1.0)),
        ("advlab SimBA-DCT, unbounded", ours("dct", 100.0)),
        ("advlab SimBA-pixel, unbounded", ours("pixel", 100.0)),
        ("ART SimBA-DCT, unbounded", art("dct")),
        ("ART SimBA-pixel, unbounded", art("px")),
    ]
    for name, fn in runs:
        counter.reset()
        np.random.seed(0)
        x_adv, wall, cpu = timed(fn)
        ev = evaluate(model, x, y, x_adv, "l2")
        row = {
            "attack": name,
            "step_size": step,
            "budget": budget,
            "robust_accuracy": ev["robust_accuracy"],
            "success_rate": float(ev["broken"].sum() / ev["clean_correct"].sum()),
            "queries_per_point": counter.total / len(x),
            "median_l2_broken": float(ev["norms"][ev["broken"]].median()),
            "wall_s": wall,
            "cpu_s": cpu,
        }
        log.info("%s", row)
        rows.append(row)
    return rows


def to_markdown(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        cells = [f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]) for k in keys]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="test points")
    ap.add_argument("--square-queries", type=int, default=5000)
    ap.add_argument("--hsj-iters", type=int, nargs="+", default=[5, 16], help="ART max_iter values")
    ap.add_argument("--simba-queries", type=int, default=2000)
    ap.add_argument("--simba-step", type=float, default=0.2)
    ap.add_argument("--only", nargs="+", default=["square", "hsj", "simba"])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("art").setLevel(logging.WARNING)
    torch.set_num_threads(1)

    ds = load_dataset("digits")
    bundle = reference_model("digits")
    model = bundle.model.eval()
    x = torch.tensor(ds.x_test[: args.n])
    y = torch.tensor(ds.y_test[: args.n])
    with torch.no_grad():
        clean = float((model(x).argmax(1) == y).float().mean())
    report: dict[str, Any] = {"n": len(x), "clean_accuracy": clean, "torch": torch.__version__}
    print(f"digits CNN, {len(x)} test points, clean accuracy {clean:.4f}\n")
    if "square" in args.only:
        report["square"] = bench_square(model, x, y, args.square_queries)
        print("## Square, L-inf\n\n" + to_markdown(report["square"]) + "\n")
    if "hsj" in args.only:
        report["hopskipjump"] = bench_hsj(model, x, y, args.hsj_iters)
        print("## HopSkipJump, L2\n\n" + to_markdown(report["hopskipjump"]) + "\n")
    if "simba" in args.only:
        report["simba"] = bench_simba(model, x, y, args.simba_queries, args.simba_step)
        print("## SimBA, L2\n\n" + to_markdown(report["simba"]) + "\n")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

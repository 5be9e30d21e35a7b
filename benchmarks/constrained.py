"""Constrained tabular evasion: are the adversarial examples valid loan applications?

On the ``credit`` table (``advlab.data.credit``: 18 features, the amortisation formula, two
ratio features, one-hot term and purpose, integer counts, immutable and increase-only
features, three business rules) and its reference MLP (``reference_model("credit")``), on
the first ``--n`` test points, L-inf eps in ``--eps``:

* **PGD** (50 steps, no constraints): success rate, and the share of its successes that
  satisfy the domain constraints;
* **PGD, then repair**: PGD's points repaired once afterwards
  (:func:`advlab.constraints.repair`: mutability, bounds, types, one-hot, recomputed
  defined features), re-checked on the model: still adversarial, feasible and inside eps;
* **PGD + constraints** (``run(..., constraints=cs)``): the repair after every step, and
  only feasible points count;
* **CPGD** (50 steps) and **MoEvA2** (NSGA-III, ``--generations`` x ``--population``
  queries at most per point, on the first ``--n-moeva`` points).

"valid success" = misclassified, feasible (every check of :meth:`ConstraintSet.violations`)
and inside the eps ball. Success rates are over the points the model classifies correctly.

Reproduce (about 10 minutes on 2 busy cores):
    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/constrained.py \
        --json benchmarks/results/constrained.json
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import torch

from advlab.attacks.evasion.cpgd import CPGD
from advlab.attacks.evasion.moeva2 import MoEvA2
from advlab.attacks.evasion.pgd import PGD
from advlab.constraints import ConstraintSet, repair
from advlab.data.credit import credit
from advlab.models.zoo import reference_model
from advlab.norms import lp_norm
from advlab.targets import ScoresOnly, Target

log = logging.getLogger("constrained-bench")


def valid(
    cs: ConstraintSet,
    target: Target,
    x: torch.Tensor,
    y: torch.Tensor,
    xa: torch.Tensor,
    eps: float,
    norm: str = "linf",
) -> torch.Tensor:
    """Per point: misclassified, feasible and inside the eps ball."""
    with torch.no_grad():
        wrong = target.labels(xa) != y
    inside = lp_norm(xa - x, norm) <= eps * (1 + 1e-5) + 1e-6
    return wrong & cs.feasible(xa, x) & inside


def row(
    name: str,
    success: torch.Tensor,
    ok: torch.Tensor,
    correct: torch.Tensor,
    queries: int,
    seconds: float,
) -> dict[str, Any]:
    """``success``: what the attack claims; ``ok``: independently valid."""
    k = int(correct.sum())
    succ = success & correct
    return {
        "attack": name,
        "points": k,
        "success_rate": round(float(succ.sum()) / k, 3),
        "valid_success_rate": round(float((ok & correct).sum()) / k, 3),
        "feasible_share_of_successes": round(float((ok & succ).sum()) / max(int(succ.sum()), 1), 3),
        "queries_per_point": round(queries / max(len(success), 1), 1),
        "seconds": round(seconds, 1),
    }


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    ds = credit(seed=0)
    cs: ConstraintSet = ds.meta["constraints"]
    bundle = reference_model("credit")
    log.info("credit MLP: %s", bundle.meta["metrics"])
    rows: list[dict[str, Any]] = []
    for eps in args.eps:
        x = torch.as_tensor(ds.x_test[: args.n])
        y = torch.as_tensor(ds.y_test[: args.n])
        target = bundle.target(device="cpu")
        correct = target.labels(x) == y

        t0 = time.perf_counter()
        free = PGD(eps=eps, steps=50).run(target, x, y)
        sec = time.perf_counter() - t0
        ok = valid(cs, target, x, y, free.x_adv, eps)
        rows.append({"eps": eps, **row("PGD", free.success, ok, correct, free.queries, sec)})

        fixed = torch.where(free.success[:, None], repair(cs, free.x_adv, x), x)
        ok = valid(cs, target, x, y, fixed, eps)
        rows.append(
            {"eps": eps, **row("PGD, then repair", ok, ok, correct, free.queries + len(x), sec)}
        )

        for name, atk in (
            ("PGD + constraints", PGD(eps=eps, steps=50)),
            ("CPGD", CPGD(eps=eps, steps=50, constraints=cs)),
            (
                "CPGD (paper: no chaining)",
                CPGD(eps=eps, steps=50, constraints=cs, chain_definitions=False),
            ),
        ):
            t0 = time.perf_counter()
            res = atk.run(target, x, y, constraints=cs)
            sec = time.perf_counter() - t0
            ok = valid(cs, target, x, y, res.x_adv, eps)
            rows.append({"eps": eps, **row(name, res.success, ok, correct, res.queries, sec)})

        m = args.n_moeva
        atk = MoEvA2(
            eps=eps, generations=args.generations, population=args.population, constraints=cs
        )
        t0 = time.perf_counter()
        res = atk.run(ScoresOnly(target), x[:m], y[:m])
        sec = time.perf_counter() - t0
        ok = valid(cs, target, x[:m], y[:m], res.x_adv, eps)
        rows.append({"eps": eps, **row("MoEvA2", res.success, ok, correct[:m], res.queries, sec)})
        for r in rows[-6:]:
            log.info("%s", r)
    return rows


def export_peer(args: argparse.Namespace) -> None:
    """The points, model and constraint metadata for benchmarks/constrained_peer.py."""
    import numpy as np

    ds = credit(seed=0)
    cs: ConstraintSet = ds.meta["constraints"]
    model = reference_model("credit").model
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    x = torch.as_tensor(ds.x_test[: args.n_peer])
    mut = {j: m for j, _, m in cs.mutability()}
    arrays: dict[str, Any] = {
        "x": cs.to_raw(x).numpy(),
        "y": ds.y_test[: args.n_peer],
        "lo": np.array([f.lower for f in cs.features]),
        "hi": np.array([f.upper for f in cs.features]),
        "names": np.array(cs.names),
        "types": np.array([f.type for f in cs.features]),
        "immutable": np.array([mut.get(j) == "immutable" for j in range(len(cs.features))]),
        "increase": np.array([mut.get(j) == "increase" for j in range(len(cs.features))]),
        "eps": np.array(args.peer_eps),
        "generations": np.array(args.generations),
        "population": np.array(args.population),
        "n_layers": np.array(len(linears)),
    }
    for i, lin in enumerate(linears):
        arrays[f"w{i}"] = lin.weight.detach().double().numpy()
        arrays[f"b{i}"] = lin.bias.detach().double().numpy()
    np.savez(args.export_peer, **arrays)


def compare_peer(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The peer's attack and advlab's (MoEvA2 under L-inf, or CPGD under L2 for
    tabularbench) on the same points: valid success under advlab's checker."""
    import numpy as np

    ds = credit(seed=0)
    cs: ConstraintSet = ds.meta["constraints"]
    target = reference_model("credit").target(device="cpu")
    peer = np.load(args.peer_result, allow_pickle=False)
    x = torch.as_tensor(ds.x_test[: args.n_peer])
    y = torch.as_tensor(ds.y_test[: args.n_peer])
    correct = target.labels(x) == y
    k = int(correct.sum())
    rows = []
    norm = "l2" if args.peer_kind == "cpgd" else "linf"
    for eps in args.peer_eps:
        pop = torch.as_tensor(peer[f"x_adv_{eps:g}"])  # (n, candidates, d) raw
        n, m, d = pop.shape
        scaled = cs.to_input(pop.reshape(n * m, d).double(), torch.float64)
        x_rep = x.double().repeat_interleave(m, 0)
        y_rep = y.repeat_interleave(m)
        ok = valid(cs, target, x_rep, y_rep, scaled, eps, norm).reshape(n, m)
        feas = cs.feasible(scaled, x_rep).reshape(n, m)
        counts = cs.violations(scaled, x_rep).counts()
        rows.append(
            {
                "eps": eps,
                "attack": args.peer_name,
                "points": k,
                "valid_success_rate": round(float((ok.any(1) & correct).sum()) / k, 3),
                "feasible_candidates": round(float(feas.double().mean()), 3),
                "most_violated": sorted(counts.items(), key=lambda kv: -kv[1])[:3],
                "seconds": round(float(peer[f"seconds_{eps:g}"]), 1),
            }
        )
        t0 = time.perf_counter()
        if args.peer_kind == "cpgd":
            res = CPGD(norm="l2", eps=eps, steps=50, constraints=cs).run(target, x, y)
        else:
            atk = MoEvA2(
                eps=eps, generations=args.generations, population=args.population, constraints=cs
            )
            res = atk.run(ScoresOnly(target), x, y)
        ok1 = valid(cs, target, x, y, res.x_adv, eps, norm)
        rows.append(
            {
                "eps": eps,
                "attack": "advlab " + ("CPGD" if args.peer_kind == "cpgd" else "MoEvA2"),
                "points": k,
                "valid_success_rate": round(float((ok1 & correct).sum()) / k, 3),
                "feasible_candidates": None,
                "most_violated": [],
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        log.info("%s\n%s", rows[-2], rows[-1])
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    head = "| eps | attack | points | success | valid success | feasible share of successes | queries/point | seconds |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['eps']} | {r['attack']} | {r['points']} | {r['success_rate']:.3f} | "
            f"{r['valid_success_rate']:.3f} | {r['feasible_share_of_successes']:.3f} | "
            f"{r['queries_per_point']} | {r['seconds']} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--n-moeva", type=int, default=100)
    p.add_argument("--eps", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    p.add_argument("--generations", type=int, default=30)
    p.add_argument("--population", type=int, default=48)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--n-peer", type=int, default=50)
    p.add_argument("--peer-eps", type=float, nargs="+", default=[0.1, 0.2])
    p.add_argument("--export-peer", type=Path, default=None, help="write the peer's input and stop")
    p.add_argument("--peer-result", type=Path, default=None, help="compare with the peer's output")
    p.add_argument("--peer-kind", choices=["moeva2", "cpgd"], default="moeva2")
    p.add_argument("--peer-name", default="constrained-attacks MoEvA2")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    if args.export_peer is not None:
        export_peer(args)
        return
    if args.peer_result is not None:
        peer_rows = compare_peer(args)
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(peer_rows, indent=2))
        return
    rows = run(args)
    text = markdown(rows)
    logging.getLogger().info("\n%s", text)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()

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
) -> torch.Tensor:
    """Per point: misclassified, feasible and inside the L-inf ball."""
    with torch.no_grad():
        wrong = target.labels(xa) != y
    inside = lp_norm(xa - x, "linf") <= eps * (1 + 1e-5) + 1e-6
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
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
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

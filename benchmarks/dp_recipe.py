"""DP-SGD that learns: the privacy-utility table of :mod:`advlab.models.dp_recipe`.

For each dataset and epsilon in (1, 3, 8, inf) the recipe (fixed ScatterNet features,
per-example group normalisation, DP-SGD linear model; Tramer & Boneh 2021) trains
``refs + 1`` models, each on a seeded random half of a pool (exact halves). Model 0 is the
target, the others are LiRA's reference models, trained exactly like it. Utility is the
accuracy on the examples each model did not train on (held out), averaged over all models.
Leakage: the loss threshold and online LiRA (default variance rule) against the target, with
their TPR at 1% FPR beside the DP ceiling ``e^eps * FPR + delta``, and the high-confidence
lower bound on epsilon that the whole ROC implies (Clopper-Pearson, Bonferroni over the
thresholds), which a DP model must keep below its epsilon.

Reproduce (docs/benchmarks/privacy.md, "DP-SGD that learns"):
``python benchmarks/dp_recipe.py --out advlab-results/dp_recipe``
(``--mnist-pool 0`` skips MNIST, ``--no-digits`` digits; ``--full-mnist`` adds utility rows
on the full 60,000 / 10,000 split at epsilon 1 and 3).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from advlab.attacks.inference import LiRA, LossThreshold, Signals
from advlab.data import load_dataset
from advlab.models.dp_recipe import DPRecipe, featurize, train_dp_linear
from advlab.privacy.metrics import dp_tpr_bound, empirical_epsilon

log = logging.getLogger("dp_recipe")


def pool(name: str, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The pool of candidate members: all of digits, or a seeded MNIST training subset."""
    if name == "digits":
        d = load_dataset("digits", seed=seed)
        return np.concatenate([d.x_train, d.x_test]), np.concatenate([d.y_train, d.y_test])
    d = load_dataset("mnist", seed=seed, n_train=size, n_test=10)
    return d.x_train, d.y_train


def halves(n: int, models: int, seed: int) -> np.ndarray:
    """``(models, n)`` membership masks: model 0 (the target) a seeded random half, the
    references random halves and their complements, so every example is IN for half of them."""
    rng = np.random.default_rng(seed)
    out = np.zeros((models, n), dtype=bool)
    out[0, rng.permutation(n)[: n // 2]] = True
    for m in range(1, models, 2):
        out[m, rng.permutation(n)[: n // 2]] = True
        if m + 1 < models:
            out[m + 1] = ~out[m]
    return out


def one_epsilon(
    feats: np.ndarray, y: np.ndarray, masks: np.ndarray, eps: float, seed: int
) -> dict[str, Any]:
    """Train every model at ``eps``; utility, the target's leakage and the DP ceiling."""
    x = torch.as_tensor(feats)
    logits, accs, spent, sigma = [], [], math.nan, math.nan
    t0 = time.perf_counter()
    for m, mask in enumerate(masks):
        recipe = DPRecipe(eps, seed=seed * 1000 + m).resolved(int(mask.sum()))
        lin, spent, sigma, steps = train_dp_linear(feats[mask], y[mask], 10, recipe)
        with torch.no_grad():
            z = lin(x).numpy().astype(np.float64)
        logits.append(z)
        accs.append(float((z[~mask].argmax(1) == y[~mask]).mean()))
    seconds = time.perf_counter() - t0
    ref = LogisticRegression(max_iter=500).fit(feats[masks[0]], y[masks[0]])
    delta = float(recipe.delta or 0.0)
    members = masks[0]
    sig = Signals(
        labels=y,
        target_logits=logits[0],
        ref_logits=np.stack(logits[1:]),
        ref_in=masks[1:],
        members=members,
    )
    row: dict[str, Any] = {
        "epsilon_target": eps,
        "epsilon_spent": spent,
        "delta": delta,
        "noise_multiplier": sigma,
        "batch_size": recipe.batch_size,
        "epochs": recipe.epochs,
        "steps": steps,
        "acc_target": accs[0],
        "acc_mean": float(np.mean(accs)),
        "acc_std": float(np.std(accs)),
        "acc_nonprivate_logreg": float(ref.score(feats[~masks[0]], y[~masks[0]])),
        "models": len(masks),
        "seconds": round(seconds, 1),
        "dp_bound_tpr_at_1pct": float(dp_tpr_bound(0.01, eps, delta)) if eps < math.inf else 1.0,
    }
    for attack in (LossThreshold(), LiRA()):
        res = attack.infer(sig)
        row[attack.name] = {
            "auc": float(res.metrics["auc"]),
            "tpr_at_1pct": float(res.tpr_at(0.01)),
            "eps_lower_bound": float(empirical_epsilon(res.scores, members, delta=delta or 1e-5)),
        }
    return row


def run_dataset(name: str, size: int, a: argparse.Namespace) -> dict[str, Any]:
    x, y = pool(name, size, a.seed)
    t0 = time.perf_counter()
    feats = featurize(x, DPRecipe(1.0))
    feat_s = time.perf_counter() - t0
    masks = halves(len(x), a.refs + 1, a.seed)
    rows = []
    for eps in a.eps:
        row = one_epsilon(feats, y, masks, eps, a.seed)
        rows.append(row)
        log.info("%s eps=%s: %s", name, eps, json.dumps(row))
    return {"pool": len(x), "members": int(masks[0].sum()), "feature_seconds": feat_s, "rows": rows}


def full_mnist(a: argparse.Namespace) -> list[dict[str, Any]]:
    """Utility only: the recipe on the full MNIST training set, scored on its test set."""
    d = load_dataset("mnist", seed=a.seed)
    feats, test = featurize(d.x_train, DPRecipe(1.0)), featurize(d.x_test, DPRecipe(1.0))
    out = []
    for eps in (1.0, 3.0):
        recipe = DPRecipe(eps, seed=a.seed).resolved(len(feats))
        lin, spent, sigma, steps = train_dp_linear(feats, d.y_train, 10, recipe)
        with torch.no_grad():
            acc = float((lin(torch.as_tensor(test)).argmax(1).numpy() == d.y_test).mean())
        out.append(
            {
                "epsilon_target": eps,
                "epsilon_spent": spent,
                "delta": recipe.delta,
                "noise_multiplier": sigma,
                "steps": steps,
                "test_acc": acc,
            }
        )
        log.info("full MNIST eps=%s: acc %.4f", eps, acc)
    return out


def print_table(results: dict[str, Any]) -> None:
    head = (
        "| data | eps (spent) | sigma | held-out acc (mean ± sd) | loss TPR@1% | "
        "LiRA TPR@1% | DP ceiling @1% | LiRA AUC | eps lower bound (loss / LiRA) |"
    )
    print(head)
    print("|" + "---|" * 9)
    for name, res in results.items():
        if name == "full_mnist":
            continue
        for r in res["rows"]:
            print(
                f"| {name} | {r['epsilon_target']:g} ({r['epsilon_spent']:.3f}) | "
                f"{r['noise_multiplier']:.2f} | {r['acc_mean']:.3f} ± {r['acc_std']:.3f} | "
                f"{r['loss_threshold']['tpr_at_1pct']:.4f} | {r['lira']['tpr_at_1pct']:.4f} | "
                f"{r['dp_bound_tpr_at_1pct']:.4f} | {r['lira']['auc']:.3f} | "
                f"{r['loss_threshold']['eps_lower_bound']:.2f} / "
                f"{r['lira']['eps_lower_bound']:.2f} |"
            )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--eps", type=float, nargs="+", default=[1.0, 3.0, 8.0, math.inf])
    p.add_argument("--refs", type=int, default=16, help="LiRA reference models per epsilon")
    p.add_argument("--mnist-pool", type=int, default=10_000, help="0 skips MNIST")
    p.add_argument("--full-mnist", action="store_true")
    p.add_argument("--no-digits", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("advlab-results/dp_recipe"))
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    results: dict[str, Any] = {}
    if not a.no_digits:
        results["digits"] = run_dataset("digits", 0, a)
    if a.mnist_pool:
        results["mnist"] = run_dataset("mnist", a.mnist_pool, a)
    if a.full_mnist:
        results["full_mnist"] = full_mnist(a)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "dp_recipe.json").write_text(json.dumps(results, indent=1))
    print_table(results)


if __name__ == "__main__":
    main()

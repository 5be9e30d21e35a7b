"""Membership-inference benchmark: the numbers in docs/benchmarks/privacy.md (membership inference).

Sections (run one or several; each writes ``<out>/<section>.json`` and prints a table):

- ``mia``: seeded synthetic 20-class task, overfit scikit-learn MLP target; every advlab
  membership attack with 64 reference models; LiRA / RMIA vs loss threshold at 0.1% FPR;
  pooled leave-one-out targets; rounding to one decimal vs loss threshold and label-only.
- ``speedup``: reference-model training, serial vs a 2-worker process pool (pin the run to
  2 cores with ``taskset -c 0,1`` for the acceptance figure); identical logits checked.
- ``ray``: the same reference models through Ray and serially; identical scores checked.
- ``utility``: privacy-utility table (torch MLP): none, L2, dropout, early stopping, DP-SGD
  at epsilon 1 and 8, rounding, top label; each attack's TPR at 1% / 0.1% FPR; the DP bound.
- ``tutorial``: the classroom experiment: FGSM on unseen points, and Shokri shadow models on
  an overfit CNN, done right, with L2 and top-label defenses; on digits or, with
  ``--tutorial-dataset traffic_signs``, the 43-class 32x32 traffic-sign set.
- ``art``: IBM ART's membership attacks side by side on the same target and points.
- ``lira16``: LiRA with 16 reference models (its default: a global variance) vs per-example
  variances and the loss threshold at 0.1% FPR, on the ``mia`` task and a second one.

Reproduce: ``python benchmarks/inference.py mia speedup utility tutorial art ray --out
advlab-results/inference``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from advlab.attacks.inference import (
    RMIA,
    Augment,
    LiRA,
    LossThreshold,
    ReferenceModels,
    Signals,
    SklearnMLPTrainer,
    TorchTrainer,
    collect_signals,
)
from advlab.attacks.inference.label_only import LabelOnlyAugmentation, LabelOnlyBoundary
from advlab.attacks.inference.shokri import MLLeaks, ShokriAttack
from advlab.attacks.inference.signals import apply_output_defense
from advlab.attacks.inference.threshold import (
    ConfidenceThreshold,
    EntropyThreshold,
    ModifiedEntropyThreshold,
)
from advlab.privacy.metrics import (
    dp_tpr_bound,
    membership_metrics,
    roc_points,
    roc_svg,
)

log = logging.getLogger("bench")
FPRS = (0.1, 0.01, 0.001)


# ----------------------------------------------------------------------------- helpers
def synthetic_pool(
    n: int = 4000, sep: float = 1.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from advlab.data import load_dataset

    ds = load_dataset("synthetic", seed=seed, n_samples=n, class_sep=sep)
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    members = np.zeros(len(x), bool)
    members[np.random.default_rng(seed + 100).permutation(len(x))[: len(x) // 2]] = True
    return x, y, members


def row(name: str, scores: np.ndarray, members: np.ndarray, n_boot: int = 200) -> dict[str, Any]:
    m = membership_metrics(scores, members, fprs=FPRS, n_boot=n_boot)
    return {
        "attack": name,
        "auc": m.auc,
        "tpr": m.tpr_at_fpr,
        "ci": m.tpr_ci,
        "n_members": m.n_members,
        "n_nonmembers": m.n_nonmembers,
        "warnings": m.warnings,
    }


def fmt_rows(rows: list[dict[str, Any]], extra: tuple[str, ...] = ()) -> str:
    head = (
        "| attack | "
        + " | ".join(extra)
        + (" | " if extra else "")
        + "AUC | TPR@10% | TPR@1% | TPR@0.1% (95% CI) |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        t, ci = r["tpr"], r["ci"]
        ex = "".join(f"{r.get(k, '')} | " for k in extra)
        lines.append(
            f"| {r['attack']} | {ex}{r['auc']:.3f} | {t['10%']:.3f} | {t['1%']:.4f} | "
            f"{t['0.1%']:.4f} ({ci['0.1%'][0]:.4f}-{ci['0.1%'][1]:.4f}) |"
        )
    return "\n".join(lines)


def save(out: Path, name: str, data: Any) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(data, indent=1, default=float))


def sk_target(model: Any) -> Any:
    from advlab.targets.sklearn import SklearnClassifier

    return SklearnClassifier(model, bounds=(0.0, 1.0), device="cpu")


def mlp_trainer(args: argparse.Namespace) -> Any:
    """The target's recipe, reused for every reference model (torch MLP 256-256, or sklearn)."""
    if args.trainer == "sklearn":
        return SklearnMLPTrainer(hidden=(256, 256), max_iter=args.max_iter, lr=args.lr)
    from advlab.models import TrainConfig

    spec = {"arch": "mlp", "in_features": 40, "num_classes": 20, "hidden": [256, 256]}
    return TorchTrainer(
        spec=spec, config=TrainConfig(epochs=args.max_iter, batch_size=64, lr=args.lr)
    )


def fit_target(
    trainer: Any, x: np.ndarray, y: np.ndarray, *, num_classes: int = 20
) -> tuple[Any, Any]:
    """(model, advlab target) for the benchmark's target model."""
    import torch
    from threadpoolctl import threadpool_limits

    from advlab.targets.torch import TorchClassifier

    torch.set_num_threads(1)
    with threadpool_limits(1):
        model = trainer.fit(x, y, seed=10**6, num_classes=num_classes)
    if isinstance(trainer, SklearnMLPTrainer):
        return model, sk_target(model)
    return model, TorchClassifier(model, bounds=(0.0, 1.0), device="cpu")


def reference_models(args: argparse.Namespace, trainer: Any, n: int) -> ReferenceModels:
    """``n`` reference models (seed 1) through the command line's executor and cache."""
    return ReferenceModels(
        trainer=trainer,
        n_models=n,
        seed=1,
        executor=args.executor,
        executor_options={"workers": args.workers} if args.executor == "processes" else {},
        cache_dir=args.cache,
    )


# ----------------------------------------------------------------------------- mia
def section_mia(args: argparse.Namespace) -> dict[str, Any]:
    from advlab.defenses.output import Rounding

    x, y, members = synthetic_pool(args.n, args.sep)
    trainer = mlp_trainer(args)
    model, target = fit_target(trainer, x[members], y[members])
    pred = target.labels(target.check_inputs(x)).numpy()
    train_acc, test_acc = float((pred == y)[members].mean()), float((pred == y)[~members].mean())
    log.info("target: train %.4f test %.4f", train_acc, test_acc)
    t0 = time.perf_counter()
    ref = reference_models(args, trainer, args.models).run(x, y)
    t_ref = time.perf_counter() - t0
    sig = collect_signals(target, x, y, reference=ref, members=members)
    attacks: list[tuple[str, Any]] = [
        ("loss threshold (Yeom)", LossThreshold()),
        ("confidence (Song)", ConfidenceThreshold()),
        ("entropy (Song)", EntropyThreshold()),
        ("modified entropy (Song)", ModifiedEntropyThreshold()),
        ("ML-Leaks (1 shadow)", MLLeaks()),
        ("Shokri (16 shadows)", ShokriAttack(n_shadow=min(16, args.models), attack_model="logreg")),
        ("LiRA online", LiRA()),
        ("LiRA online, fixed var", LiRA(fixed_variance=True)),
        ("LiRA offline", LiRA(offline=True)),
        ("LiRA offline, fixed var", LiRA(offline=True, fixed_variance=True)),
        ("RMIA online", RMIA()),
        ("RMIA offline (a tuned)", RMIA(offline=True)),
    ]
    rows, curves = [], {}
    for name, atk in attacks:
        s = atk.score(sig)
        rows.append(row(name, s, members))
        if name in ("loss threshold (Yeom)", "LiRA online", "RMIA online", "LiRA offline"):
            curves[name] = roc_points(s, members)
    # label-only, undefended and behind rounding
    lo_aug = Augment(kind="noise", n=args.label_aug, sigma=args.label_sigma, seed=7)
    sig_aug = collect_signals(target, x, y, members=members, augment=lo_aug)
    rows.append(
        row("label-only, noise robustness", LabelOnlyAugmentation().score(sig_aug), members)
    )
    bnd = LabelOnlyBoundary(directions=args.directions, max_radius=1.0, steps=12)
    d_clean = bnd.distances(target, x, y)
    rows.append(row("label-only, boundary distance", d_clean, members))
    curves["label-only boundary"] = roc_points(d_clean, members)
    # pooled leave-one-out: reference models as targets
    pooled: dict[str, list[np.ndarray]] = {
        "loss threshold (Yeom)": [],
        "LiRA online": [],
        "LiRA offline, fixed var": [],
        "RMIA online": [],
    }
    truth = []
    for m in range(args.pool_targets):
        s_m = sig.with_target(m)
        truth.append(s_m.members)
        pooled["loss threshold (Yeom)"].append(LossThreshold().score(s_m))
        pooled["LiRA online"].append(LiRA().score(s_m))
        pooled["LiRA offline, fixed var"].append(LiRA(offline=True, fixed_variance=True).score(s_m))
        pooled["RMIA online"].append(RMIA().score(s_m))
    pooled_rows = [row(k, np.concatenate(v), np.concatenate(truth)) for k, v in pooled.items()]
    # rounding to one decimal
    rounding = Rounding(decimals=1)
    rt = rounding.apply(target)
    ref_r = ref.logits.copy()
    ref_r = apply_output_defense(ref_r, rounding)
    sig_r = collect_signals(rt, x, y, members=members)
    sig_r.ref_logits, sig_r.ref_in = ref_r, ref.ref_in
    sig_r_aug = collect_signals(rt, x, y, members=members, augment=lo_aug)
    d_round = bnd.distances(rt, x, y)
    round_rows = [
        row("loss threshold, clean", LossThreshold().score(sig), members),
        row("loss threshold, rounded", LossThreshold().score(sig_r), members),
        row("LiRA online, rounded", LiRA().score(Signals(**{**sig_r.__dict__})), members),
        row("label-only noise, clean", LabelOnlyAugmentation().score(sig_aug), members),
        row("label-only noise, rounded", LabelOnlyAugmentation().score(sig_r_aug), members),
        row("label-only boundary, clean", d_clean, members),
        row("label-only boundary, rounded", d_round, members),
    ]
    out = Path(args.out)
    roc_svg(
        curves,
        out / "roc_mia.svg",
        title=f"synthetic-20, overfit MLP, {args.models} reference models",
    )
    loss_tpr = rows[0]["tpr"]["0.1%"]
    res = {
        "setup": {
            "n_pool": len(x),
            "members": int(members.sum()),
            "train_acc": train_acc,
            "test_acc": test_acc,
            "models": args.models,
            "ref_seconds": t_ref,
            "executor": args.executor,
            "sep": args.sep,
            "max_iter": args.max_iter,
        },
        "rows": rows,
        "pooled": pooled_rows,
        "rounding": round_rows,
        "ratio_lira_loss": rows[6]["tpr"]["0.1%"] / max(loss_tpr, 1e-12),
        "ratio_rmia_loss": rows[10]["tpr"]["0.1%"] / max(loss_tpr, 1e-12),
    }
    print(json.dumps(res["setup"]))
    print(fmt_rows(rows))
    print("\npooled over", args.pool_targets, "leave-one-out targets\n" + fmt_rows(pooled_rows))
    print("\nrounding to 1 decimal\n" + fmt_rows(round_rows))
    save(out, "mia", res)
    return res


# ----------------------------------------------------------------------------- speedup
def section_speedup(args: argparse.Namespace) -> dict[str, Any]:
    x, y, _ = synthetic_pool(args.n, args.sep)
    trainer = mlp_trainer(args)
    times, outs = {}, {}
    proc_opts: dict[str, Any] = {"workers": 2, "start_method": args.start_method}
    for ex, opts in (("serial", {}), ("processes", proc_opts)):
        t0 = time.perf_counter()
        r = ReferenceModels(
            trainer=trainer, n_models=args.speed_models, seed=5, executor=ex, executor_options=opts
        ).run(x, y)
        times[ex] = time.perf_counter() - t0
        outs[ex] = r.logits
    same = bool(np.array_equal(outs["serial"], outs["processes"]))
    res = {
        "models": args.speed_models,
        "cpus": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "seconds": times,
        "speedup": times["serial"] / times["processes"],
        "start_method": args.start_method or "default (forkserver where available)",
        "identical": same,
    }
    print(json.dumps(res))
    save(Path(args.out), "speedup", res)
    return res


def section_ray(args: argparse.Namespace) -> dict[str, Any]:
    x, y, members = synthetic_pool(1000, args.sep)
    trainer = SklearnMLPTrainer(hidden=(64,), max_iter=100)
    target = sk_target(trainer.fit(x[members], y[members], seed=10**6, num_classes=20))
    scores, times = {}, {}
    for ex in ("serial", "ray"):
        t0 = time.perf_counter()
        opts = {"address": "auto", "num_cpus": 2} if ex == "ray" else {}
        r = ReferenceModels(
            trainer=trainer, n_models=8, seed=3, executor=ex, executor_options=opts
        ).run(x, y)
        times[ex] = time.perf_counter() - t0
        sig = collect_signals(target, x, y, reference=r, members=members)
        scores[ex] = LiRA().score(sig)
    res = {
        "identical_scores": bool(np.array_equal(scores["serial"], scores["ray"])),
        "seconds": times,
    }
    print(json.dumps(res))
    save(Path(args.out), "ray", res)
    return res


# ----------------------------------------------------------------------------- utility
def _torch_variant(name: str, args: argparse.Namespace) -> TorchTrainer:
    from advlab.models import TrainConfig

    spec = {"arch": "mlp", "in_features": 40, "num_classes": 20, "hidden": [256, 256]}
    base = TrainConfig(epochs=args.torch_epochs, batch_size=64, lr=1e-3)
    if name == "l2":
        return TorchTrainer(
            spec=spec, config=TrainConfig(epochs=args.torch_epochs, lr=1e-3, weight_decay=args.l2)
        )
    if name == "dropout":
        return TorchTrainer(spec={**spec, "dropout": 0.5}, config=base)
    if name == "early stopping":
        return TorchTrainer(spec=spec, config=TrainConfig(epochs=max(args.torch_epochs // 8, 2)))
    if name.startswith("dp"):
        eps = float(name.split("=")[1])
        return TorchTrainer(
            spec=spec,
            config=TrainConfig(epochs=args.dp_epochs, batch_size=256, lr=args.dp_lr),
            epsilon=eps,
            delta=1e-5,
            max_grad_norm=1.0,
        )
    return TorchTrainer(spec=spec, config=base)


def section_utility(args: argparse.Namespace) -> dict[str, Any]:
    from advlab.defenses.output import LabelOnlyOutput, Rounding
    from advlab.targets.torch import TorchClassifier

    x, y, members = synthetic_pool(args.n, args.sep)
    variants = [
        "none",
        "l2",
        "dropout",
        "early stopping",
        "dp eps=8",
        "dp eps=1",
        "rounding(1)",
        "top label",
    ]
    table, curves = [], {}
    cache: dict[str, Any] = {}
    for v in variants:
        train_name = v if v not in ("rounding(1)", "top label") else "none"
        trainer = _torch_variant(train_name, args)
        if train_name not in cache:
            t0 = time.perf_counter()
            model = trainer.fit(x[members], y[members], seed=10**6, num_classes=20)
            ref = ReferenceModels(
                trainer=trainer,
                n_models=args.utility_models,
                seed=11,
                executor=args.executor,
                executor_options={"workers": args.workers} if args.executor == "processes" else {},
                cache_dir=args.cache,
            ).run(x, y)
            cache[train_name] = (model, ref, time.perf_counter() - t0)
        model, ref, secs = cache[train_name]
        target: Any = TorchClassifier(model, bounds=(0.0, 1.0), device="cpu")
        pred = target.labels(target.check_inputs(x)).numpy()
        acc_tr, acc_te = float((pred == y)[members].mean()), float((pred == y)[~members].mean())
        ref_logits = ref.logits
        if v == "rounding(1)":
            target = Rounding(decimals=1).apply(target)
            ref_logits = apply_output_defense(ref_logits, Rounding(decimals=1))
        elif v == "top label":
            target = LabelOnlyOutput().apply(target)
            ref_logits = apply_output_defense(ref_logits, LabelOnlyOutput())
        sig = collect_signals(target, x, y, members=members)
        sig = Signals(
            labels=sig.labels,
            target_logits=sig.target_logits,
            ref_logits=ref_logits,
            ref_in=ref.ref_in,
            members=members,
            output="logits",
        )
        rows = {
            "loss": row("loss", LossThreshold().score(sig), members),
            "LiRA": row("LiRA", LiRA(fixed_variance=True).score(sig), members),
            "RMIA": row("RMIA", RMIA().score(sig), members),
        }
        d = LabelOnlyBoundary(directions=args.directions, max_radius=1.0).distances(target, x, y)
        rows["label-only"] = row("label-only", d, members)
        entry: dict[str, Any] = {
            "defense": v,
            "train_acc": acc_tr,
            "test_acc": acc_te,
            "seconds": secs,
            "attacks": rows,
        }
        if v.startswith("dp"):
            eps = float(v.split("=")[1])
            entry["epsilon"] = eps
            entry["bound"] = {
                k: float(dp_tpr_bound(f, eps, 1e-5)) for k, f in (("1%", 0.01), ("0.1%", 0.001))
            }
            entry["within_bound"] = {
                a: bool(r["ci"]["0.1%"][0] <= entry["bound"]["0.1%"]) for a, r in rows.items()
            }
            if eps == 1.0:
                curves = {
                    a: roc_points(
                        {
                            "loss": LossThreshold().score(sig),
                            "LiRA": LiRA(fixed_variance=True).score(sig),
                            "RMIA": RMIA().score(sig),
                            "label-only": d,
                        }[a],
                        members,
                    )
                    for a in rows
                }
                roc_svg(
                    curves,
                    Path(args.out) / "roc_dp_eps1.svg",
                    dp_bound=(eps, 1e-5),
                    title="DP-SGD eps=1: measured ROC vs the DP bound",
                )
        table.append(entry)
        log.info("%s done: test acc %.3f", v, acc_te)
    lines = [
        "| defense | train acc | test acc | "
        + " | ".join(f"{a} TPR@1% | {a} TPR@0.1%" for a in ("loss", "LiRA", "RMIA", "label-only"))
        + " |"
    ]
    lines.append("|" + "---|" * (3 + 8))
    for e in table:
        cells = " | ".join(
            f"{r['tpr']['1%']:.4f} | {r['tpr']['0.1%']:.4f}" for r in e["attacks"].values()
        )
        lines.append(f"| {e['defense']} | {e['train_acc']:.3f} | {e['test_acc']:.3f} | {cells} |")
    print("\n".join(lines))
    for e in table:
        if "bound" in e:
            print(
                e["defense"],
                "DP bound at 0.1% FPR:",
                round(e["bound"]["0.1%"], 5),
                {a: (r["tpr"]["0.1%"], r["ci"]["0.1%"]) for a, r in e["attacks"].items()},
                "within:",
                e["within_bound"],
            )
    save(Path(args.out), "utility", {"table": table})
    return {"table": table}


# ----------------------------------------------------------------------------- tutorial
def section_tutorial(args: argparse.Namespace) -> dict[str, Any]:
    from advlab.attacks.evasion import FGSM
    from advlab.data import load_dataset
    from advlab.defenses.output import LabelOnlyOutput
    from advlab.models import TrainConfig, default_spec
    from advlab.targets.torch import TorchClassifier

    if args.tutorial_dataset == "traffic_signs":
        ds = load_dataset(
            "traffic_signs", seed=0, n_per_class=args.signs_per_class, test_per_class=10
        )
    else:
        ds = load_dataset("digits", seed=0)
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    k = int(y.max()) + 1
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(x))
    half = min(len(x) // 2, args.tutorial_pool) if args.tutorial_pool else len(x) // 2
    # a smaller pool means fewer members per model: the CNN overfits (digits is easy)
    tgt_pool, shadow_pool = perm[:half], perm[half : 2 * half]
    xt, yt = x[tgt_pool], y[tgt_pool]
    members = np.zeros(len(xt), bool)
    members[rng.permutation(len(xt))[: len(xt) // 2]] = True
    spec = default_spec(tuple(x.shape[1:]), k, arch="cnn")
    results = []
    for name, wd in (
        ("overfit CNN (no defense)", 0.0),
        ("L2 (weight decay)", args.tutorial_l2),
        ("top label only", 0.0),
    ):
        trainer = TorchTrainer(
            spec=spec, config=TrainConfig(epochs=args.cnn_epochs, lr=1e-3, weight_decay=wd)
        )
        model = trainer.fit(xt[members], yt[members], seed=10**6, num_classes=k)
        target: Any = TorchClassifier(model, bounds=(0.0, 1.0), device="cpu")
        # accuracy on data scaled exactly like the training data (digits / 16, in [0, 1])
        pred = target.labels(target.check_inputs(xt)).numpy()
        acc_tr, acc_te = float((pred == yt)[members].mean()), float((pred == yt)[~members].mean())
        # the evasion half of the experiment: FGSM on the non-members (unseen test points)
        fgsm = FGSM(eps=args.tutorial_eps).run(target, xt[~members], yt[~members])
        # shadow models trained like the target (same architecture, recipe, data distribution)
        ref = ReferenceModels(
            trainer=trainer,
            n_models=args.shadows,
            seed=21,
            executor=args.executor,
            executor_options={"workers": args.workers} if args.executor == "processes" else {},
            cache_dir=args.cache,
        ).run(x[shadow_pool], y[shadow_pool])
        # shadow outputs on the shadow pool; target outputs on its own pool
        shadow_sig = Signals(
            labels=y[shadow_pool],
            target_logits=ref.logits[0],
            ref_logits=ref.logits,
            ref_in=ref.ref_in,
        )
        ref_logits = ref.logits
        if name == "top label only":
            target = LabelOnlyOutput().apply(target)
            ref_logits = apply_output_defense(ref_logits, LabelOnlyOutput())
            shadow_sig = Signals(
                labels=y[shadow_pool],
                target_logits=ref_logits[0],
                ref_logits=ref_logits,
                ref_in=ref.ref_in,
            )
        tsig = collect_signals(target, xt, yt, members=members)
        if tsig.output == "labels":
            # the attacker reads the returned label as a one-hot score vector, exactly like
            # the shadow outputs above (the classroom tutorial's attack does the same)
            tsig = Signals(
                labels=tsig.labels,
                target_logits=tsig.target_logits,
                members=members,
                output="logits",
            )
        shokri = _shokri_transfer(shadow_sig, tsig, seed=0)
        r = {
            "setting": name,
            "train_acc": acc_tr,
            "test_acc": acc_te,
            "fgsm_eps": args.tutorial_eps,
            "fgsm_robust_acc": round(float(fgsm.robust_accuracy), 4),
            "shokri": row("Shokri", shokri, members),
            "loss": row("loss", LossThreshold().score(tsig), members),
        }
        d = LabelOnlyBoundary(directions=args.directions, max_radius=2.0).distances(target, xt, yt)
        r["label_only"] = row("label-only boundary", d, members)
        r["shokri_attack_accuracy"] = float(((shokri > 0.5) == members).mean())
        results.append(r)
        log.info("tutorial %s: test acc %.3f", name, acc_te)
    lines = [
        f"{args.tutorial_dataset}: {len(xt)} target-pool points ({members.sum()} members), "
        f"{k} classes, FGSM eps {args.tutorial_eps:g}",
        "| setting | train acc | test acc | FGSM acc | Shokri acc | Shokri AUC | Shokri TPR@1% | "
        "loss TPR@1% | label-only AUC | label-only TPR@1% |",
        "|" + "---|" * 10,
    ]
    for r in results:
        lines.append(
            f"| {r['setting']} | {r['train_acc']:.3f} | {r['test_acc']:.3f} | "
            f"{r['fgsm_robust_acc']:.3f} | {r['shokri_attack_accuracy']:.3f} | {r['shokri']['auc']:.3f} | "
            f"{r['shokri']['tpr']['1%']:.4f} | {r['loss']['tpr']['1%']:.4f} | "
            f"{r['label_only']['auc']:.3f} | {r['label_only']['tpr']['1%']:.4f} |"
        )
    print("\n".join(lines))
    stem = "tutorial" if args.tutorial_dataset == "digits" else f"tutorial_{args.tutorial_dataset}"
    save(Path(args.out), stem, {"results": results})
    return {"results": results}


def _shokri_transfer(shadow: Signals, target: Signals, seed: int) -> np.ndarray:
    """Shokri: attack classifiers fitted on shadow models (own pool), applied to the target."""
    return ShokriAttack(attack_model="mlp", seed=seed).score_transfer(shadow, target)


# ----------------------------------------------------------------------------- ART
def section_art(args: argparse.Namespace) -> dict[str, Any]:
    from art.attacks.inference.membership_inference import (
        LabelOnlyDecisionBoundary,
        MembershipInferenceBlackBox,
        MembershipInferenceBlackBoxRuleBased,
    )

    x, y, members = synthetic_pool(args.n, args.sep)
    trainer = mlp_trainer(args)
    model, target = fit_target(trainer, x[members], y[members])
    ref = reference_models(args, trainer, args.models).run(x, y)
    sig = collect_signals(target, x, y, reference=ref, members=members)
    rng = np.random.default_rng(5)
    half = rng.random(len(x)) < 0.5  # attack-training half (for ART black-box) / evaluation half
    ev = ~half
    est = _art_estimator(model)
    rows = []
    t0 = time.perf_counter()
    bb = MembershipInferenceBlackBox(est, attack_model_type="rf")
    bb.fit(x[half & members], y[half & members], x[half & ~members], y[half & ~members])
    p = bb.infer(x[ev], y[ev], probabilities=True)
    rows.append(
        {
            **row(
                "ART MembershipInferenceBlackBox (rf, trained on true members)",
                np.asarray(p).reshape(len(p), -1)[:, -1],
                members[ev],
            ),
            "seconds": time.perf_counter() - t0,
        }
    )
    t0 = time.perf_counter()
    rb = MembershipInferenceBlackBoxRuleBased(est)
    p = rb.infer(x[ev], y[ev])
    rows.append(
        {
            **row(
                "ART MembershipInferenceBlackBoxRuleBased",
                np.asarray(p, float).reshape(-1),
                members[ev],
            ),
            "seconds": time.perf_counter() - t0,
        }
    )
    for name, atk in (
        ("advlab loss threshold", LossThreshold()),
        ("advlab LiRA online", LiRA()),
        ("advlab RMIA online", RMIA()),
        (
            "advlab Shokri (16 shadows)",
            ShokriAttack(n_shadow=min(16, args.models), attack_model="logreg"),
        ),
    ):
        t0 = time.perf_counter()
        s = atk.score(sig)[ev]
        rows.append({**row(name, s, members[ev]), "seconds": time.perf_counter() - t0})
    # label-only on a subset (ART's HopSkipJump is slow): same points for both
    idx = np.flatnonzero(ev)[: args.art_label_points]
    cal = np.flatnonzero(half)[: args.art_label_points]
    t0 = time.perf_counter()
    lo = LabelOnlyDecisionBoundary(est)
    cm = members[cal]
    lo.calibrate_distance_threshold(
        x[cal][cm],
        y[cal][cm],
        x[cal][~cm],
        y[cal][~cm],
        max_iter=10,
        max_eval=1000,
        init_eval=100,
        verbose=False,
    )
    p = lo.infer(
        x[idx], y[idx], probabilities=True, max_iter=10, max_eval=1000, init_eval=100, verbose=False
    )
    rows.append(
        {
            **row(
                f"ART LabelOnlyDecisionBoundary ({len(idx)} points)",
                np.asarray(p)[:, 1],
                members[idx],
                n_boot=100,
            ),
            "seconds": time.perf_counter() - t0,
        }
    )
    t0 = time.perf_counter()
    d = LabelOnlyBoundary(directions=args.directions, max_radius=1.0).distances(
        target, x[idx], y[idx]
    )
    rows.append(
        {
            **row(f"advlab label-only boundary ({len(idx)} points)", d, members[idx], n_boot=100),
            "seconds": time.perf_counter() - t0,
        }
    )
    print(fmt_rows(rows, extra=("seconds",)).replace("| seconds |", "| s |"))
    save(Path(args.out), "art", {"rows": rows, "eval_points": int(ev.sum())})
    return {"rows": rows}


def _art_estimator(model: Any) -> Any:
    if isinstance(model, torch_module()):
        import torch
        from art.estimators.classification import PyTorchClassifier

        class Float32(torch.nn.Module):
            """ART's HopSkipJump queries with float64 arrays; the model is float32."""

            def __init__(self, inner: torch.nn.Module) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.inner(x.float())  # type: ignore[no-any-return]

        return PyTorchClassifier(
            model=Float32(model),
            loss=torch.nn.CrossEntropyLoss(),
            input_shape=(40,),
            nb_classes=20,
            clip_values=(0.0, 1.0),
        )
    from art.estimators.classification import SklearnClassifier as ArtSk

    return ArtSk(model=model, clip_values=(0.0, 1.0))


def torch_module() -> type:
    import torch

    return torch.nn.Module


# ----------------------------------------------------------------------------- lira16
def _lira16_task(args: argparse.Namespace, task: str) -> tuple[Any, np.ndarray, np.ndarray, Any]:
    """(trainer, x, y, members) of one ``lira16`` task."""
    if task == "synthetic":  # the ``mia`` section's task and recipe
        x, y, members = synthetic_pool(args.n, args.sep)
        return mlp_trainer(args), x, y, members
    # second task: 10 classes, 20 features, less separable, a scikit-learn MLP
    from advlab.data import load_dataset

    ds = load_dataset(
        "synthetic", seed=3, n_samples=args.n, n_features=20, n_classes=10, class_sep=1.0
    )
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    members = np.zeros(len(x), bool)
    members[np.random.default_rng(103).permutation(len(x))[: len(x) // 2]] = True
    return SklearnMLPTrainer(hidden=(256, 256), max_iter=200), x, y, members


def section_lira16(args: argparse.Namespace) -> dict[str, Any]:
    """LiRA with 16 reference models: the default (global variance below 64 references)
    against per-example variances and the loss threshold, at 0.1% FPR, on two tasks.

    20 reference models per task: models 4-19 are the 16 references of every evaluation;
    the separately trained target, then models 0-3 in turn (leave-one-out, pooled), are the
    targets."""
    out: dict[str, Any] = {}
    n_refs, n_loo = 16, 4
    for task in ("synthetic", "synthetic10-sklearn"):
        trainer, x, y, members = _lira16_task(args, task)
        k = int(y.max() + 1)
        model, target = fit_target(trainer, x[members], y[members], num_classes=k)
        pred = target.labels(target.check_inputs(x)).numpy()
        acc = (float((pred == y)[members].mean()), float((pred == y)[~members].mean()))
        t0 = time.perf_counter()
        ref = reference_models(args, trainer, n_refs + n_loo).run(x, y)
        t_ref = time.perf_counter() - t0
        refs = slice(n_loo, n_loo + n_refs)
        sig = collect_signals(target, x, y, members=members)
        sig = Signals(sig.labels, sig.target_logits, ref.logits[refs], ref.ref_in[refs], members)
        attacks: list[tuple[str, Any]] = [
            ("loss threshold (Yeom)", LossThreshold()),
            ("LiRA online, default (global variance)", LiRA()),
            ("LiRA online, per-example variance", LiRA(fixed_variance=False)),
            ("LiRA offline, default (global variance)", LiRA(offline=True)),
            ("LiRA offline, per-example variance", LiRA(offline=True, fixed_variance=False)),
            ("RMIA online", RMIA()),
        ]
        rows = [row(name, atk.score(sig), members) for name, atk in attacks]
        pooled: dict[str, list[np.ndarray]] = {name: [] for name, _ in attacks}
        truth = []
        for m in range(n_loo):
            s_m = Signals(y, ref.logits[m], ref.logits[refs], ref.ref_in[refs], ref.ref_in[m])
            truth.append(ref.ref_in[m])
            for name, atk in attacks:
                pooled[name].append(atk.score(s_m))
        pooled_rows = [row(n, np.concatenate(v), np.concatenate(truth)) for n, v in pooled.items()]

        def ratios(rs: list[dict[str, Any]]) -> dict[str, float]:
            loss = rs[0]["tpr"]["0.1%"]
            return {r["attack"]: r["tpr"]["0.1%"] / max(loss, 1e-12) for r in rs[1:]}

        out[task] = {
            "setup": {
                "n_pool": len(x),
                "train_acc": acc[0],
                "test_acc": acc[1],
                "references": n_refs,
                "ref_seconds": t_ref,
            },
            "rows": rows,
            "pooled": pooled_rows,
            "ratio_to_loss": ratios(rows),
            "pooled_ratio_to_loss": ratios(pooled_rows),
        }
        print(f"\n== {task}: {json.dumps(out[task]['setup'])}")
        print(fmt_rows(rows))
        print(f"\npooled over {n_loo} leave-one-out targets\n" + fmt_rows(pooled_rows))
        print("ratios to loss at 0.1% FPR:", json.dumps(out[task]["ratio_to_loss"], indent=1))
        print("pooled ratios:", json.dumps(out[task]["pooled_ratio_to_loss"], indent=1))
    save(Path(args.out), "lira16", out)
    return out


# ----------------------------------------------------------------------------- main
def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "sections",
        nargs="+",
        choices=["mia", "speedup", "ray", "utility", "tutorial", "art", "lira16"],
    )
    p.add_argument("--out", default="advlab-results/inference")
    p.add_argument("--cache", default=None, help="reference-model logits cache (resumable)")
    p.add_argument("--executor", default="processes")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--n", type=int, default=4000)
    p.add_argument("--sep", type=float, default=1.5)
    p.add_argument("--trainer", default="torch", choices=["torch", "sklearn"])
    p.add_argument("--max-iter", type=int, default=100, help="epochs (torch) / max_iter (sklearn)")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--models", type=int, default=64)
    p.add_argument("--pool-targets", type=int, default=8)
    p.add_argument("--speed-models", type=int, default=16)
    p.add_argument(
        "--start-method",
        default=None,
        choices=["forkserver", "spawn"],
        help="process-pool start method for the speedup section (default: forkserver on Linux)",
    )
    p.add_argument("--label-aug", type=int, default=64)
    p.add_argument("--label-sigma", type=float, default=0.05)
    p.add_argument("--directions", type=int, default=32)
    p.add_argument("--utility-models", type=int, default=16)
    p.add_argument("--torch-epochs", type=int, default=80)
    p.add_argument("--l2", type=float, default=5e-3)
    p.add_argument("--dp-epochs", type=int, default=30)
    p.add_argument("--dp-lr", type=float, default=0.5)
    p.add_argument("--shadows", type=int, default=16)
    p.add_argument("--cnn-epochs", type=int, default=60)
    p.add_argument("--tutorial-l2", type=float, default=1e-2)
    p.add_argument(
        "--tutorial-pool",
        type=int,
        default=0,
        help="points per pool (target / shadows) in the tutorial; members are half; 0 = all",
    )
    p.add_argument("--tutorial-dataset", default="digits", choices=["digits", "traffic_signs"])
    p.add_argument("--tutorial-eps", type=float, default=8 / 255, help="FGSM's L-inf budget")
    p.add_argument(
        "--signs-per-class", type=int, default=40, help="traffic signs generated per class"
    )
    p.add_argument("--art-label-points", type=int, default=200)
    args = p.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("advlab.privacy.metrics").setLevel(logging.ERROR)
    for s in args.sections:
        t0 = time.perf_counter()
        globals()[f"section_{s}"](args)
        log.info("section %s: %.1fs", s, time.perf_counter() - t0)


if __name__ == "__main__":
    main()

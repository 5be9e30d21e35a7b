"""Poisoning benchmarks: backdoors, clean-label, feature collision, label flips, detectors,
and Witches' Brew side by side with ART's GradientMatchingAttack.

Every number is a mean and spread over >= 5 victim seeds (victims retrained from scratch on
the poisoned set, next to clean victims with the same seeds). Reproduce:

    nice -n 10 python benchmarks/poisoning.py backdoor --seeds 5
    nice -n 10 python benchmarks/poisoning.py defenses --seeds 5
    python benchmarks/poisoning.py wb --pairs 20 --victims 5 --executor processes --workers 16
    python benchmarks/poisoning.py wb --executor ray --address auto     # on a Ray cluster
    python benchmarks/poisoning.py wb --dataset traffic_signs --pairs 20 --victims 3 \
        --configs "advlab ens4 eps16/255,ART eps16/255" --executor processes --workers 16

Results are written as JSON next to ``--out`` and summarised as markdown on stdout.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import multiprocessing as mp
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from advlab.data import load_dataset
from advlab.models import TrainConfig, default_spec

DATA_SEED = 0
TRAIN = TrainConfig(epochs=30)  # the victims' (and surrogates') recipe: Adam 1e-3, batch 64


def mean_std(v: list[float]) -> str:
    a = np.asarray(v, dtype=float)
    return f"{100 * a.mean():.1f} ± {100 * a.std(ddof=1) if len(a) > 1 else 0:.1f}"


# ---------------------------------------------------------------------- Witches' Brew
WB_CONFIGS: dict[str, dict[str, Any]] = {
    "advlab ens4 eps16/255": {"method": "advlab", "eps": 16 / 255},
    "ART eps16/255": {"method": "art", "eps": 16 / 255},
    "advlab ens4 eps0.25": {"method": "advlab", "eps": 0.25},
    "advlab ens4 eps0.5": {"method": "advlab", "eps": 0.5},
    "ART eps0.5": {"method": "art", "eps": 0.5},
}


# The sweep's data: digits (the whole embedded set) or a generated traffic-sign subset (43
# classes, 3x32x32; 60 signs per class keep a victim to about a CPU-minute), with the epochs
# of the victims' and surrogates' recipe (Adam 1e-3, batch 64, SmallCNN).
WB_DATA: dict[str, dict[str, Any]] = {
    "digits": {"load": {}, "epochs": 30},
    "traffic_signs": {"load": {"n_per_class": 60, "test_per_class": 10}, "epochs": 15},
}


@functools.lru_cache(maxsize=2)
def wb_data(dataset: str) -> Any:
    return load_dataset(dataset, seed=DATA_SEED, **WB_DATA[dataset]["load"])


def wb_train(dataset: str, seed: int = 0) -> TrainConfig:
    return TrainConfig(**{**TRAIN.to_dict(), "epochs": WB_DATA[dataset]["epochs"], "seed": seed})


@functools.lru_cache(maxsize=2)
def _surrogate_state(dataset: str = "digits") -> dict[str, np.ndarray]:
    from advlab.attacks.poisoning.victim import state_to_numpy, train_victim

    ds = wb_data(dataset)
    spec = default_spec(ds.input_shape, ds.num_classes)
    cfg = wb_train(dataset, 12345)
    return state_to_numpy(train_victim(spec, ds.x_train, ds.y_train, cfg))


def wb_task(args: tuple[str, int, int, int, int, int, str]) -> dict[str, Any]:
    """Craft poisons for one (config, target, adversarial class), retrain victims."""
    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    from advlab.attacks.poisoning import PoisonedDataset, WitchesBrew, evaluate_poisoning
    from advlab.models import build

    name, pair, ti, adv, victims, victim_seed, dataset = args
    cfg = WB_CONFIGS[name]
    ds = wb_data(dataset)
    k = int(ds.num_classes)
    spec = default_spec(ds.input_shape, k)
    train = wb_train(dataset)
    t0 = time.perf_counter()
    if cfg["method"] == "advlab":
        brew = WitchesBrew(
            budget=0.01,
            eps=cfg["eps"],
            ensemble=4,
            stagger=True,
            restarts=2,
            steps=250,
            train=train.to_dict(),
            seed=pair,
        )
        pds = brew.poison(ds.x_train, ds.y_train, x_target=ds.x_test[ti], target_class=adv)
    else:
        # ART's crafting starts a DataLoader worker for a class local to its method, which
        # only "fork" can start; a forkserver or spawn worker inherits its parent's method.
        mp.set_start_method("fork", force=True)
        from art.attacks.poisoning import GradientMatchingAttack
        from art.estimators.classification import PyTorchClassifier

        model = build(spec)
        state = _surrogate_state(dataset)
        model.load_state_dict({n: torch.as_tensor(v) for n, v in state.items()})
        clf = PyTorchClassifier(
            model,
            loss=torch.nn.CrossEntropyLoss(),
            optimizer=torch.optim.Adam(model.parameters(), 1e-3),
            input_shape=tuple(ds.input_shape),
            nb_classes=k,
            clip_values=(0.0, 1.0),
        )
        atk = GradientMatchingAttack(
            clf,
            percent_poison=0.01,
            epsilon=cfg["eps"],
            max_trials=2,
            max_epochs=250,
            clip_values=(0.0, 1.0),
            verbose=0,
        )
        np.random.seed(pair)
        torch.manual_seed(pair)
        xp, _ = atk.poison(
            ds.x_test[ti : ti + 1], np.eye(k)[[adv]], ds.x_train, np.eye(k)[ds.y_train]
        )
        xp = np.asarray(xp, dtype=np.float32)
        idx = np.flatnonzero(np.abs(xp - ds.x_train).reshape(len(xp), -1).max(1) > 0)
        pds = PoisonedDataset(
            attack="art_gradient_matching",
            x=xp,
            y=ds.y_train.copy(),
            indices=idx,
            budget=0.01,
            eps=cfg["eps"],
            target_class=adv,
            mode="targeted",
            x_target=ds.x_test[ti : ti + 1],
        )
    craft = time.perf_counter() - t0
    res = evaluate_poisoning(
        pds,
        ds.x_train,
        ds.y_train,
        ds.x_test,
        ds.y_test,
        spec=spec,
        train=train,
        seeds=victims,
        seed=victim_seed,
        baseline=False,
    )
    linf = float(np.abs(np.asarray(pds.x) - ds.x_train).max())
    return {
        "config": name,
        "dataset": dataset,
        "pair": pair,
        "target": ti,
        "true": int(ds.y_test[ti]),
        "adv": adv,
        "success": res.success,
        "n_poison": pds.n_poison,
        "linf": linf,
        "craft_s": craft,
        "total_s": time.perf_counter() - t0,
        "matching_loss": pds.info.get("matching_loss"),
    }


def clean_task(args: tuple[int, list[tuple[int, int]], str]) -> dict[str, Any]:
    """A clean victim (same seeds as the poisoned ones): baseline success on every pair."""
    torch.set_num_threads(1)
    from advlab.attacks.poisoning.victim import predict, train_victim

    seed, pairs, dataset = args
    ds = wb_data(dataset)
    m = train_victim(
        default_spec(ds.input_shape, ds.num_classes),
        ds.x_train,
        ds.y_train,
        wb_train(dataset, seed),
    )
    pred = predict(m, ds.x_test)
    return {
        "seed": seed,
        "accuracy": float((pred == ds.y_test).mean()),
        "baseline_success": [int(pred[t] == a) for t, a in pairs],
    }


def wb_task_to_file(args: tuple[str, int, int, int, int, int, str, str]) -> dict[str, Any]:
    """:func:`wb_task`, its record written to ``out/wb-<config>-<pair>.json`` by the worker as
    soon as it finishes (so an interrupted sweep resumes, under any executor); a task whose
    file exists is not run again."""
    *task, out = args
    slug = re.sub(r"[^\w.-]+", "_", str(task[0]))
    path = Path(out) / f"wb-{slug}-{task[1]}.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    try:
        rec = wb_task(tuple(task))  # type: ignore[arg-type]
    except Exception as exc:  # a failed pair is reported, the sweep goes on
        return {"config": task[0], "pair": task[1], "error": repr(exc)}
    path.write_text(json.dumps(rec))
    return rec


def clean_to_file(args: tuple[int, list[tuple[int, int]], str, str]) -> dict[str, Any]:
    """:func:`clean_task` with its record kept in ``out/clean-<seed>.json``."""
    seed, pairs, dataset, out = args
    path = Path(out) / f"clean-{seed}.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    rec = clean_task((seed, pairs, dataset))
    path.write_text(json.dumps(rec))
    return rec


def run_wb(a: argparse.Namespace) -> None:
    from advlab.parallel import get_executor, task_seeds

    ds = wb_data(a.dataset)
    k = int(ds.num_classes)
    rng = np.random.default_rng(a.seed)
    pairs = []
    for _ in range(a.pairs):
        ti = int(rng.integers(len(ds.x_test)))
        adv = int(rng.choice([c for c in range(k) if c != ds.y_test[ti]]))
        pairs.append((ti, adv))
    names = a.configs.split(",") if a.configs else list(WB_CONFIGS)
    victim_seed = 777  # the same victim seeds for every pair and method (paired comparison)
    out = Path(a.out) if a.dataset == "digits" else Path(a.out) / a.dataset
    out.mkdir(parents=True, exist_ok=True)
    tasks = [
        (n, p, ti, adv, a.victims, victim_seed, a.dataset, str(out))
        for p, (ti, adv) in enumerate(pairs)
        for n in names
    ]
    # One executor interface: serial, processes (a.workers) or a Ray cluster (a.address; the
    # workers write their records to `out`, which must then be on a shared file system).
    opts: dict[str, Any] = {}
    if a.executor == "processes":
        opts = {"workers": a.workers}
    elif a.executor == "ray":
        opts = {"address": a.address, "num_cpus": a.workers if a.address is None else None}
    ex = get_executor(a.executor, **opts)
    seeds = task_seeds(victim_seed, a.victims)  # evaluate_poisoning's victim seeds
    clean = ex.map(
        clean_to_file, [(s, pairs, a.dataset, str(out)) for s in seeds], description="clean"
    )
    results = ex.map(wb_task_to_file, tasks, description="witches' brew")
    rows = [r for r in results if "error" not in r]
    for r in results:
        if "error" in r:
            print(f"task failed: {r['config']} pair {r['pair']}: {r['error']}", flush=True)
    (out / "wb.json").write_text(json.dumps({"pairs": pairs, "clean": clean, "rows": rows}))
    summarise_wb(pairs, clean, rows, names)


def summarise_wb(
    pairs: list[Any], clean: list[dict[str, Any]], rows: list[dict[str, Any]], names: list[str]
) -> None:
    base = np.array([c["baseline_success"] for c in clean])  # (victims, pairs)
    print(
        f"\nclean victims: accuracy {mean_std([c['accuracy'] for c in clean])} %, target "
        f"already in the adversarial class: {100 * base.mean():.1f} %"
    )
    n_poison = rows[0]["n_poison"] if rows else "?"
    print(
        f"\n| attack (1% budget = {n_poison} poisons) | pairs | success % (mean ± std over "
        "victim seeds)"
        " | pairs won by majority | craft s/pair |"
    )
    print("|---|---|---|---|---|")
    for n in names:
        rr = sorted((r for r in rows if r["config"] == n), key=lambda r: r["pair"])
        if not rr:
            continue
        s = np.array([r["success"] for r in rr])  # (pairs, victims)
        per_seed = s.mean(0)
        won = (s.mean(1) > 0.5).mean()
        print(
            f"| {n} | {len(rr)} | {mean_std(list(per_seed))} | {100 * won:.0f} % | "
            f"{np.mean([r['craft_s'] for r in rr]):.0f} |"
        )


# ---------------------------------------------------------------------- backdoors etc.
def run_backdoor(a: argparse.Namespace) -> None:
    torch.set_num_threads(a.threads)
    from advlab.attacks.poisoning import (
        BadNets,
        Blended,
        CleanLabel,
        FeatureCollision,
        LabelFlip,
        evaluate_poisoning,
    )
    from advlab.attacks.poisoning.victim import state_to_numpy, train_victim
    from advlab.targets import TorchClassifier

    ds = load_dataset("digits", seed=DATA_SEED)
    spec = default_spec(ds.input_shape, 10)
    sur = train_victim(
        spec, ds.x_train, ds.y_train, TrainConfig(**{**TRAIN.to_dict(), "seed": 12345})
    )
    target = TorchClassifier(sur, input_shape=ds.input_shape, device="cpu")
    out: list[dict[str, Any]] = []
    print(
        "| attack | budget | victims | attack success % | clean-accuracy drop pp | clean-victim success % |"
    )
    print("|---|---|---|---|---|---|")

    def report(label: str, pds: Any, **kw: Any) -> None:
        r = evaluate_poisoning(
            pds,
            ds.x_train,
            ds.y_train,
            ds.x_test,
            ds.y_test,
            spec=spec,
            train=kw.pop("train", TRAIN),
            seeds=a.seeds,
            seed=a.seed,
            executor=a.executor,
            **kw,
        )
        out.append(
            {"label": label, **r.summary(), "success": r.success, "clean_drop": r.clean_drop}
        )
        print(
            f"| {label} | {100 * pds.budget:.1f}% | {a.seeds} | {mean_std(r.success)} | "
            f"{mean_std(r.clean_drop)} | {mean_std(r.baseline_success)} |",
            flush=True,
        )

    for b in (0.01, 0.03, 0.05):
        report(
            "BadNets 3x3 all-to-one", BadNets(budget=b, seed=a.seed).poison(ds.x_train, ds.y_train)
        )
    report(
        "BadNets 3x3 all-to-all",
        BadNets(budget=0.05, mode="all_to_all", seed=a.seed).poison(ds.x_train, ds.y_train),
    )
    report(
        "Blended a=0.2 all-to-one", Blended(budget=0.05, seed=a.seed).poison(ds.x_train, ds.y_train)
    )
    for b in (0.01, 0.03, 0.05):
        for eps in (0.0, 0.3):
            pds = CleanLabel(budget=b, eps=eps, seed=a.seed).poison(
                ds.x_train, ds.y_train, surrogate=target
            )
            report(f"Clean-label (PGD eps {eps}) + 3x3 patch", pds)
    # feature collision: transfer learning (frozen features of the surrogate, last layer retrained)
    init = state_to_numpy(sur)
    rng = np.random.default_rng(a.seed)
    for b in (0.01, 0.05):
        succ = []
        for _ in range(a.fc_targets):
            ti = int(rng.integers(len(ds.x_test)))
            adv = int(rng.choice([c for c in range(10) if c != ds.y_test[ti]]))
            pds = FeatureCollision(budget=b, seed=a.seed).poison(
                ds.x_train, ds.y_train, x_target=ds.x_test[ti], target_class=adv, model=sur
            )
            r = evaluate_poisoning(
                pds,
                ds.x_train,
                ds.y_train,
                ds.x_test,
                ds.y_test,
                spec=spec,
                train=TrainConfig(epochs=10),
                seeds=a.seeds,
                seed=a.seed,
                mode="linear",
                init_state=init,
                baseline=False,
            )
            succ.append(r.success)
        s = np.array(succ)
        out.append({"label": f"feature collision {b}", "success": s.tolist()})
        print(
            f"| Feature collision (linear victim, {a.fc_targets} random pairs) | {100 * b:.1f}% | "
            f"{a.seeds} | {mean_std(list(s.mean(0)))} | n/a | n/a |",
            flush=True,
        )
    for strat in ("random", "greedy"):
        report(
            f"Label flip {strat} (success = test error)",
            LabelFlip(strategy=strat, budget=0.2, seed=a.seed).poison(ds.x_train, ds.y_train),
        )
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "backdoor.json").write_text(json.dumps(out, default=float))


def run_defenses(a: argparse.Namespace) -> None:
    torch.set_num_threads(a.threads)
    from advlab.attacks.poisoning import BadNets, Blended
    from advlab.attacks.poisoning.victim import train_victim
    from advlab.defenses.poison import (
        ActivationClustering,
        NeuralCleanse,
        SpectralSignatures,
        Strip,
    )
    from advlab.parallel import task_seeds

    ds = load_dataset("digits", seed=DATA_SEED)
    spec = default_spec(ds.input_shape, 10)
    rows: dict[str, list[dict[str, float]]] = {}
    for s in task_seeds(a.seed, a.seeds):
        for label, atk in (
            ("BadNets 5%", BadNets(budget=0.05, seed=s % 1000)),
            ("Blended 5%", Blended(budget=0.05, seed=s % 1000)),
        ):
            pds = atk.poison(ds.x_train, ds.y_train)
            model = train_victim(spec, pds.x, pds.y, TrainConfig(**{**TRAIN.to_dict(), "seed": s}))
            for tag, det in (
                ("spectral (global 5%)", SpectralSignatures(expected_fraction=0.05)),
                (
                    "spectral (per class 34%)",
                    SpectralSignatures(expected_fraction=0.34, scope="per_class"),
                ),
                ("activation clustering", ActivationClustering()),
            ):
                d = det.detect(pds.x, pds.y, model=model, poison_indices=pds.indices)
                rows.setdefault(f"{tag} on {label}", []).append(
                    {"recall": d.recall, "precision": d.precision, "clean_removed": d.clean_removed}
                )
            st = (
                Strip(seed=s % 1000)
                .fit(model, ds.x_train)
                .detect_inputs(np.concatenate([ds.x_test, pds_trigger(pds, ds.x_test)]))
            )
            n = len(ds.x_test)
            rows.setdefault(f"strip on {label}", []).append(
                {
                    "recall": float(st.flagged[n:].mean()),
                    "precision": float("nan"),
                    "clean_removed": float(st.flagged[:n].mean()),
                }
            )
            if label.startswith("BadNets"):
                nc = NeuralCleanse(steps=150, batch_size=64, seed=s % 1000).analyse(
                    model, ds.x_test[:256], bounds=(0.0, 1.0)
                )
                rows.setdefault("neural_cleanse on BadNets 5% (target 0)", []).append(
                    {
                        "recall": float(0 in nc.flagged),
                        "precision": float(nc.flagged == [0]),
                        "clean_removed": float(nc.anomaly_index[0]),
                    }
                )
    print("| detector | runs | recall % | precision % | clean data removed % |")
    print("|---|---|---|---|---|")
    for k, v in rows.items():
        rec = [x["recall"] for x in v]
        pre = [x["precision"] for x in v]
        cr = [x["clean_removed"] for x in v]
        if k.startswith("neural_cleanse"):
            print(
                f"| {k} | {len(v)} | target flagged {mean_std(rec)} | only target flagged "
                f"{mean_std(pre)} | anomaly index of target {np.mean(cr):.2f} ± {np.std(cr, ddof=1):.2f} |"
            )
        else:
            print(f"| {k} | {len(v)} | {mean_std(rec)} | {mean_std(pre)} | {mean_std(cr)} |")
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "defenses.json").write_text(json.dumps(rows))


def pds_trigger(pds: Any, x: np.ndarray) -> np.ndarray:
    from advlab.attacks.poisoning import apply_trigger

    return apply_trigger(x, pds.trigger)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("section", choices=["wb", "backdoor", "defenses"])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument(
        "--dataset", choices=sorted(WB_DATA), default="digits", help="data of the wb sweep"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pairs", type=int, default=20)
    p.add_argument("--victims", type=int, default=5)
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--fc-targets", type=int, default=10)
    p.add_argument("--executor", default="serial", help="serial | processes | ray")
    p.add_argument("--address", default=None, help="Ray cluster address (with --executor ray)")
    p.add_argument("--configs", default="")
    p.add_argument("--out", default=os.environ.get("OUT", "advlab-results/poisoning"))
    a = p.parse_args(argv)
    {"wb": run_wb, "backdoor": run_backdoor, "defenses": run_defenses}[a.section](a)


if __name__ == "__main__":
    sys.exit(main())

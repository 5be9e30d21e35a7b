"""Vectorised reference models: 64 MLPs trained at once with ``torch.func.vmap`` against the
serial loop and the process pool, and LiRA's numbers from both paths.

Every path trains the same models: the seeds of ``task_seeds(seed, M)``, a balanced random
half of the pool per model, the same architecture and optimiser settings. LiRA (online,
leave-one-out over the first ``--targets`` models as targets, the rest as references) is
scored on each path's logits (the fused MLP path is the default; ``vmap_s`` times the
``torch.func.vmap`` path on the same models); the two paths' AUC and TPR at 1% FPR should agree within their
confidence intervals.

Reproduce (CPU, 2 cores):

    .venv/bin/python benchmarks/vectorized_reference.py --models 64 --threads 2 \
        --json /tmp/vectorized.json

Results are recorded in docs/benchmarks/privacy.md (vectorised reference models).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from typing import Any

import numpy as np
import torch

from advlab.attacks.inference.lira import LiRA
from advlab.attacks.inference.reference import ReferenceModels, TorchTrainer, balanced_membership
from advlab.attacks.inference.reference_vmap import VectorizedTorchTrainer
from advlab.attacks.inference.signals import Signals
from advlab.data import load_dataset
from advlab.models import TrainConfig
from advlab.models.vectorized import train_stacked
from advlab.parallel import task_seeds
from advlab.privacy.metrics import auc, bootstrap_tpr, tpr_at_fpr

log = logging.getLogger("benchmarks.vectorized")


def lira_numbers(logits: np.ndarray, member: np.ndarray, y: np.ndarray, targets: int) -> dict:
    signals = Signals(labels=y, target_logits=logits[0], ref_logits=logits, ref_in=member)
    scores, members = [], []
    for m in range(targets):
        s = signals.with_target(m)
        scores.append(LiRA().score(s))
        members.append(s.members)
    sc, mb = np.concatenate(scores), np.concatenate(members)
    ((lo, hi),) = bootstrap_tpr(sc, mb, [0.01]).values()
    return {
        "auc": round(auc(sc, mb), 4),
        "tpr_at_1pct_fpr": round(tpr_at_fpr(sc, mb, 0.01), 4),
        "tpr_at_1pct_fpr_ci": [round(float(lo), 4), round(float(hi), 4)],
    }


def victims_numbers(seeds: int, epochs: int) -> dict[str, Any]:
    """BadNets on digits: ``2 x seeds`` victims (poisoned and clean) serial vs vectorised."""
    from advlab.attacks.poisoning import BadNets, evaluate_poisoning

    ds = load_dataset("digits", seed=0)
    poisoned = BadNets(budget=0.05, target_class=0).poison(ds.x_train, ds.y_train)
    spec = {"arch": "mlp", "in_features": 64, "num_classes": 10, "hidden": [128, 128]}
    out: dict[str, Any] = {"victims": 2 * seeds, "epochs": epochs}
    for executor in ("vectorized", "serial"):
        start, cpu = time.perf_counter(), time.process_time()
        res = evaluate_poisoning(
            poisoned,
            ds.x_train,
            ds.y_train,
            ds.x_test,
            ds.y_test,
            spec=spec,
            train=TrainConfig(epochs=epochs, batch_size=64, lr=1e-3),
            seeds=seeds,
            executor=executor,
        )
        s = res.summary()
        out[executor] = {
            "wall_s": round(time.perf_counter() - start, 1),
            "cpu_s": round(time.process_time() - cpu, 1),
            "success_mean": round(s["success_mean"], 3),
            "success_std": round(s["success_std"], 3),
            "clean_drop_mean": round(s["clean_drop_mean"], 4),
        }
    out["speedup"] = round(out["serial"]["wall_s"] / out["vectorized"]["wall_s"], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", type=int, default=64)
    ap.add_argument("--pool", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--targets", type=int, default=8)
    ap.add_argument("--skip-process", action="store_true")
    ap.add_argument("--victims", type=int, default=8, help="poisoning victim seeds (0: skip)")
    ap.add_argument("--json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    data = load_dataset("synthetic", seed=0)
    x, y = data.x_train[: args.pool], data.y_train[: args.pool]
    spec = {"arch": "mlp", "in_features": x.shape[1], "num_classes": 20, "hidden": [128, 128]}
    cfg = TrainConfig(epochs=args.epochs, batch_size=64, lr=1e-3)
    member = balanced_membership(args.models, len(x), 0)
    seeds = task_seeds(0, args.models)
    out: dict[str, Any] = {"models": args.models, "pool": len(x), "epochs": args.epochs}

    def reference(executor: str, trainer: Any = None, **opts: Any) -> tuple[np.ndarray, float]:
        start, cpu = time.perf_counter(), time.process_time()
        ref = ReferenceModels(
            trainer=trainer or TorchTrainer(spec=spec, config=cfg),
            n_models=args.models,
            seed=0,
            executor=executor,
            executor_options=opts,
            threads=1 if executor != "serial" else args.threads,
        ).run(x, y, ref_in=member, num_classes=20)
        wall = time.perf_counter() - start
        cpu_times[executor if trainer is None else getattr(trainer, "label", "vectorized")] = round(
            time.process_time() - cpu, 1
        )
        return ref.logits[:, :, 0, :], wall

    cpu_times: dict[str, float] = {}
    # warm-up: torch.func's first use in a process costs seconds that a long run pays once
    train_stacked(spec, x[:64], y[:64], member[:2, :64] | True, seeds[:2], epochs=1, fused=False)
    vmap_trainer = VectorizedTorchTrainer(spec=spec, config=cfg, fused=False)
    vmap_trainer.label = "vmap"  # type: ignore[attr-defined]
    vmap_logits, vmap_s = reference("serial", vmap_trainer)
    out["vmap_s"] = round(vmap_s, 1)
    vec_logits, vec_s = reference("serial", VectorizedTorchTrainer(spec=spec, config=cfg))
    out["vectorized_s"] = round(vec_s, 1)
    serial_logits, serial_s = reference("serial")
    out["serial_s"] = round(serial_s, 1)
    out["cpu_s"] = cpu_times
    out["max_abs_logit_diff_fused_vs_vmap"] = float(np.abs(vec_logits - vmap_logits).max())
    if not args.skip_process:
        _, proc_s = reference("processes", workers=args.threads)
        out["process_s"] = round(proc_s, 1)
        out["speedup_vs_process"] = round(proc_s / out["vectorized_s"], 2)
    out["speedup_vs_serial"] = round(serial_s / out["vectorized_s"], 2)
    out["speedup_vs_vmap"] = round(vmap_s / out["vectorized_s"], 2)
    out["cpu_speedup_vs_serial"] = round(cpu_times["serial"] / cpu_times["vectorized"], 2)
    stacked = train_stacked(spec, x, y, member, seeds, epochs=args.epochs, batch_size=64)
    out["vectorized_mean_test_accuracy"] = round(
        float((stacked.predict(data.x_test).argmax(-1) == data.y_test).mean()), 4
    )
    out["lira_vectorized"] = lira_numbers(vec_logits, member, y, args.targets)
    out["lira_serial"] = lira_numbers(serial_logits, member, y, args.targets)
    if args.victims:
        out["poisoning_victims"] = victims_numbers(args.victims, args.epochs)
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()

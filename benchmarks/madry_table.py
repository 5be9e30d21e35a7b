"""The Madry table at MNIST / traffic-sign scale: clean, FGSM, PGD-40, PGD-40 with restarts and
advlab AutoAttack on a standard and a PGD-adversarially-trained CNN, with torchattacks and ART
on the same points (accuracy and wall time).

Madry et al. 2018 report on their MNIST model (eps 0.3): FGSM 95.6%, PGD-40 93.2%, and the
AutoAttack paper (Croce & Hein 2020) lowers it to 88.5%; the ordering clean >= FGSM >= PGD >=
PGD restarts >= AutoAttack is what should hold for any sound evaluation.

Reproduce (CPU; models are cached in $ADVLAB_CACHE):

    .venv/bin/python benchmarks/madry_table.py --dataset mnist --eps 0.3 --n-train 20000 \
        --epochs 3 --adv-steps 7 --n-eval 500 --json /tmp/madry_mnist.json
    .venv/bin/python benchmarks/madry_table.py --dataset traffic_signs --eps 0.0314 \
        --epochs 10 --adv-steps 7 --n-eval 500 --json /tmp/madry_signs.json

Results are recorded in docs/benchmarks/evasion.md (the Madry table at scale).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import time
from typing import Any

import numpy as np
import torch

from advlab.attacks.evasion import FGSM, PGD, AutoAttack
from advlab.data import load_dataset
from advlab.models import TrainConfig, build, default_spec, load_bundle, save_model, train_model
from advlab.models.zoo import cache_dir
from advlab.utils import stable_hash

log = logging.getLogger("benchmarks.madry")


def trained(data: Any, cfg: TrainConfig, tag: str, arch: str | None = None) -> Any:
    spec = default_spec(data.input_shape, data.num_classes, arch)
    key = stable_hash(
        {"data": data.name, "n": len(data.x_train), "spec": spec, "train": cfg.to_dict()}
    )
    path = cache_dir() / f"madry-{data.name}-{tag}-{key}.safetensors"
    if path.exists():
        return load_bundle(path)
    model = build(spec, seed=cfg.seed)
    train_model(model, data.x_train, data.y_train, cfg, description=f"train {tag}")
    save_model(
        model.cpu(),
        path,
        {
            "arch": spec,
            "input_shape": list(data.input_shape),
            "num_classes": data.num_classes,
            "bounds": [0.0, 1.0],
        },
    )
    return load_bundle(path)


def clocked(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return round(time.perf_counter() - start, 2), out


def bare_pgd(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int
) -> torch.Tensor:
    """The few lines a user would write by hand: L-inf PGD with a uniform random start."""
    gen = torch.Generator().manual_seed(0)
    xa = (x + (torch.rand(x.shape, generator=gen) * 2 - 1) * eps).clamp(0, 1)
    for _ in range(steps):
        xa.requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(model(xa), y)
        (g,) = torch.autograd.grad(loss, xa)
        xa = torch.min(torch.max(xa.detach() + alpha * g.sign(), x - eps), x + eps).clamp(0, 1)
    return xa.detach()


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return round(float((model(x).argmax(1) == y).double().mean()), 4)


def table(bundle: Any, x: np.ndarray, y: np.ndarray, eps: float, peers: bool) -> dict[str, Any]:
    target = bundle.target(device="cpu")
    model = copy.deepcopy(bundle.model).cpu().eval()
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    alpha = eps / 4
    row: dict[str, Any] = {"clean": accuracy(model, xt, yt)}
    t, r = clocked(lambda: FGSM(eps=eps).run(target, x, y))
    row["fgsm"] = {"acc": round(r.robust_accuracy, 4), "s": t}
    pgd = PGD(eps=eps, steps=40, step_size=alpha, random_start=True, seed=0)
    t, r = clocked(lambda: pgd.run(target, x, y))
    row["pgd40"] = {"acc": round(r.robust_accuracy, 4), "s": t}
    pgd_r = PGD(eps=eps, steps=40, step_size=alpha, random_start=True, restarts=5, seed=0)
    t, r = clocked(lambda: pgd_r.run(target, x, y))
    row["pgd40x5"] = {"acc": round(r.robust_accuracy, 4), "s": t}
    t, r = clocked(lambda: AutoAttack(eps=eps).run(target, x, y))
    row["autoattack"] = {"acc": round(r.robust_accuracy, 4), "s": t}
    if peers:
        import torchattacks
        from art.attacks.evasion import ProjectedGradientDescent
        from art.estimators.classification import PyTorchClassifier

        t, xa = clocked(lambda: bare_pgd(model, xt, yt, eps, alpha, 40))
        row["bare_loop_pgd40"] = {"acc": accuracy(model, xa, yt), "s": t}
        ta = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=40, random_start=True)
        t, xa = clocked(lambda: ta(xt, yt))
        row["torchattacks_pgd40"] = {"acc": accuracy(model, xa, yt), "s": t}
        taa = torchattacks.AutoAttack(
            model, norm="Linf", eps=eps, version="standard", n_classes=int(y.max()) + 1
        )
        t, xa = clocked(lambda: taa(xt, yt))
        row["torchattacks_autoattack"] = {"acc": accuracy(model, xa, yt), "s": t}
        clf = PyTorchClassifier(
            model=model,
            loss=torch.nn.CrossEntropyLoss(),
            input_shape=tuple(x.shape[1:]),
            nb_classes=int(y.max()) + 1,
            clip_values=(0.0, 1.0),
            device_type="cpu",
        )
        art = ProjectedGradientDescent(
            clf,
            norm=np.inf,
            eps=eps,
            eps_step=alpha,
            max_iter=40,
            num_random_init=1,
            batch_size=256,
            verbose=False,
        )
        t, xa_np = clocked(lambda: art.generate(x, y=np.eye(int(y.max()) + 1)[y]))
        row["art_pgd40"] = {"acc": accuracy(model, torch.as_tensor(xa_np), yt), "s": t}
        row["pgd_time_ratio_vs_torchattacks"] = round(
            row["pgd40"]["s"] / max(row["torchattacks_pgd40"]["s"], 1e-9), 2
        )
        row["pgd_time_ratio_vs_art"] = round(
            row["pgd40"]["s"] / max(row["art_pgd40"]["s"], 1e-9), 2
        )
        row["pgd_time_ratio_vs_bare_loop"] = round(
            row["pgd40"]["s"] / max(row["bare_loop_pgd40"]["s"], 1e-9), 2
        )
        row["autoattack_time_ratio_vs_torchattacks"] = round(
            row["autoattack"]["s"] / max(row["torchattacks_autoattack"]["s"], 1e-9), 2
        )
    order = [row["clean"], row["fgsm"]["acc"], row["pgd40"]["acc"], row["pgd40x5"]["acc"]]
    row["ordering_holds"] = bool(
        all(a >= b for a, b in zip(order, order[1:])) and row["autoattack"]["acc"] <= order[-1]
    )
    return row


COLUMNS = (
    ("clean", "clean"),
    ("fgsm", "FGSM"),
    ("pgd40", "PGD-40"),
    ("pgd40x5", "PGD-40 x 5 restarts"),
    ("autoattack", "AutoAttack"),
    ("torchattacks_pgd40", "torchattacks PGD-40"),
    ("art_pgd40", "ART PGD-40"),
    ("bare_loop_pgd40", "bare-loop PGD-40"),
    ("torchattacks_autoattack", "torchattacks AutoAttack"),
)


def markdown(out: dict[str, Any]) -> str:
    """The table of one run: robust accuracy (and seconds) per attack, per model."""
    head = [c[1] for c in COLUMNS]
    lines = ["| model | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
    for tag in ("standard", "pgd-at"):
        row = out[tag]
        cells = []
        for key, _ in COLUMNS:
            v = row.get(key)
            if v is None:
                cells.append("-")
            elif isinstance(v, dict):
                cells.append(f"{100 * v['acc']:.1f} % ({v['s']:.1f} s)")
            else:
                cells.append(f"{100 * v:.1f} %")
        lines.append(f"| {tag} (trained in {row['train_s']:.0f} s) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--eps", type=float, default=0.3)
    ap.add_argument("--n-train", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--adv-steps", type=int, default=7)
    ap.add_argument("--n-eval", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--arch", default=None, help="cnn (default for images) or resnet")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--markdown", metavar="JSON", help="print the table of a finished run")
    args = ap.parse_args()
    if args.markdown:
        with open(args.markdown) as fh:
            print(markdown(json.load(fh)))
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    kw: dict[str, Any] = {}
    if args.dataset in ("mnist", "fashion_mnist"):
        kw = {"n_train": args.n_train, "n_test": args.n_eval}
    data = load_dataset(args.dataset, **kw)
    x, y = data.x_test[: args.n_eval], data.y_test[: args.n_eval]
    std = TrainConfig(epochs=args.epochs, batch_size=128, lr=1e-3)
    adv = TrainConfig(
        epochs=args.epochs,
        batch_size=128,
        lr=1e-3,
        adversarial="pgd",
        adv_eps=args.eps,
        adv_steps=args.adv_steps,
        adv_step_size=2.5 * args.eps / args.adv_steps,
    )
    out: dict[str, Any] = {"dataset": args.dataset, "eps": args.eps, "n_eval": len(x)}
    out["args"] = vars(args)
    for tag, cfg in (("standard", std), ("pgd-at", adv)):
        t, bundle = clocked(lambda cfg=cfg, tag=tag: trained(data, cfg, tag, args.arch))
        out[tag] = {"train_s": t, **table(bundle, x, y, args.eps, not args.no_peers)}
        log.info("%s: %s", tag, out[tag])
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()

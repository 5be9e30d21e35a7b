"""Evasion defenses on digits: adversarial training, input transforms (with and without an
adaptive BPDA attacker), the feature-squeezing detector and randomized-smoothing certificates.

Reproduce (CPU, about 25 minutes on a busy 2-core machine, plus about 5 minutes of model
training on the first run; models are cached in $ADVLAB_CACHE):

    .venv/bin/python benchmarks/defenses.py --threads 1 --json /tmp/defenses.json

Results are recorded in docs/benchmarks/evasion.md (evasion defenses).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from advlab.attacks.evasion import FGSM, PGD
from advlab.data import load_dataset
from advlab.defenses.smoothing import RandomizedSmoothing, train_with_noise
from advlab.defenses.squeezing import FeatureSqueezing
from advlab.defenses.transforms import BitDepthReduction, MedianSmoothing
from advlab.models import TrainConfig, build, default_spec, load_bundle, reference_model, save_model
from advlab.models.zoo import cache_dir
from advlab.targets import Target, TorchClassifier
from advlab.utils import stable_hash

log = logging.getLogger("benchmarks.defenses")

EPS = [0.05, 0.1, 0.2]
RADII = [0.0, 0.25, 0.5, 1.0]


def pgd_row(
    name: str, target: Target, x: torch.Tensor, y: torch.Tensor, steps: int
) -> dict[str, Any]:
    row: dict[str, Any] = {"defense": name}
    t0 = time.perf_counter()
    for eps in EPS:
        res = PGD(norm="linf", eps=eps, steps=steps, seed=0).run(target, x, y)
        row["clean"] = res.clean_accuracy
        row[f"pgd@{eps}"] = res.robust_accuracy
    row["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"  {name}: {row}", flush=True)
    return row


def adaptive_detector_attack(
    base: Target,
    guarded: Target,
    squeezers: tuple[str, ...],
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    steps: int,
    kappa: float = 5.0,
) -> torch.Tensor:
    """L-inf PGD that makes the input adversarial for the model *and* for every squeezed
    view of it (BPDA through bit-depth squeezers), with a confidence margin ``kappa``, so the
    softmaxes agree and the squeezing score stays low (He et al. 2017's idea). Returns a mask
    of points the guarded target misclassifies without rejecting."""
    views = [base]
    for spec in squeezers:
        kind, _, arg = spec.partition(":")
        views.append(
            BitDepthReduction(bits=int(arg), bpda=True).apply(base)
            if kind == "bits"
            else MedianSmoothing(kernel=int(arg)).apply(base)
        )
    reject = guarded.num_classes - 1

    def objective(z: torch.Tensor) -> torch.Tensor:
        true = z.gather(1, y[:, None]).squeeze(1)
        other = z.masked_fill(torch.nn.functional.one_hot(y, z.shape[1]).bool(), -1e9).amax(1)
        return (other - true).clamp(max=kappa)

    alpha = 2.5 * eps / steps
    g = torch.Generator().manual_seed(0)
    xk = (x + (torch.rand(x.shape, generator=g).to(x.device) * 2 - 1) * eps).clamp(0, 1)
    evaded = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    best = xk.clone()
    for _ in range(steps):
        grad = sum(v.gradient(xk, objective)[0] for v in views)
        xk = xk + alpha * torch.as_tensor(grad).sign()
        xk = torch.min(torch.max(xk, x - eps), x + eps).clamp(0, 1)
        pred = guarded.labels(xk)
        hit = (pred != y) & (pred != reject) & ~evaded
        best[hit] = xk[hit]
        evaded |= hit
    return evaded


def noise_model(sigma: float, cfg: TrainConfig, device: str) -> torch.nn.Module:
    """A default digits CNN trained with Gaussian noise augmentation, cached by content hash."""
    ds = load_dataset("digits", seed=0)
    spec = default_spec(ds.input_shape, ds.num_classes)
    key = stable_hash(
        {
            "spec": spec,
            "train": cfg.to_dict(),
            "sigma": sigma,
            "v": 1,
            "torch": torch.__version__.split("+")[0],
        }
    )
    path = cache_dir() / f"digits-cnn-noise{sigma}-{key}.safetensors"
    if path.exists():
        return load_bundle(path, device=device).model
    model = build(spec)
    train_with_noise(model, ds.x_train, ds.y_train, sigma, cfg, device=device)
    save_model(
        model,
        path,
        {
            "arch": spec,
            "input_shape": list(ds.input_shape),
            "num_classes": ds.num_classes,
            "bounds": list(ds.bounds),
            "train": cfg.to_dict(),
            "noise_sigma": sigma,
        },
    )
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--points", type=int, default=450, help="test points (digits has 450)")
    ap.add_argument("--steps", type=int, default=40, help="PGD steps")
    ap.add_argument("--n", type=int, default=1000, help="smoothing samples per input")
    ap.add_argument("--json", default=None, help="write all numbers to this JSON file")
    ap.add_argument(
        "--sections", default="robust,squeezing,smoothing", help="comma-separated subset to run"
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev, steps = args.device, args.steps
    ds = load_dataset("digits", seed=0)
    x = torch.from_numpy(ds.x_test[: args.points]).to(dev)
    y = torch.from_numpy(ds.y_test[: args.points]).to(dev)
    out: dict[str, Any] = {"points": len(x), "device": dev, "pgd_steps": steps}
    print(f"digits: {len(x)} test points, PGD-Linf {steps} steps, device {dev}")

    # ------------------------------------------------------------- models
    t0 = time.perf_counter()
    models = {
        "standard": reference_model("digits", device=dev).model,
        "pgd-at (eps 0.1)": reference_model(
            "digits", train=TrainConfig(adversarial="pgd", adv_eps=0.1, adv_steps=10), device=dev
        ).model,
        "trades (eps 0.1, beta 6)": reference_model(
            "digits", train=TrainConfig(adversarial="trades", adv_eps=0.1, adv_steps=10), device=dev
        ).model,
    }
    print(f"models ready in {time.perf_counter() - t0:.0f}s", flush=True)

    def tgt(m: torch.nn.Module) -> TorchClassifier:
        return TorchClassifier(m, bounds=(0.0, 1.0), device=dev)

    std = tgt(models["standard"])

    sections = set(args.sections.split(","))
    if "robust" in sections:
        out["robust_accuracy"] = robust_table(models, std, x, y, steps, tgt)
    if "squeezing" in sections:
        out["feature_squeezing"] = squeezing_table(std, x, y, steps)
    if "smoothing" in sections:
        out["randomized_smoothing"] = smoothing_table(std, x, y, args.n, dev, tgt)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
        print(f"wrote {args.json}")


def robust_table(
    models: dict[str, torch.nn.Module],
    std: Target,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    tgt: Callable[[torch.nn.Module], Target],
) -> list[dict[str, Any]]:
    print("PGD-Linf robust accuracy:")
    rows = [pgd_row(name, tgt(m), x, y, steps) for name, m in models.items()]
    for bits in (1, 3):
        rows.append(
            pgd_row(
                f"bit depth {bits} (naive PGD: true gradient)",
                BitDepthReduction(bits=bits).apply(std),
                x,
                y,
                steps,
            )
        )
        rows.append(
            pgd_row(
                f"bit depth {bits} (adaptive PGD: BPDA)",
                BitDepthReduction(bits=bits, bpda=True).apply(std),
                x,
                y,
                steps,
            )
        )
    for k in (2, 3):
        rows.append(
            pgd_row(
                f"median {k}x{k} (true gradient)",
                MedianSmoothing(kernel=k).apply(std),
                x,
                y,
                steps,
            )
        )
    return rows


def squeezing_table(
    std: Target, x: torch.Tensor, y: torch.Tensor, steps: int
) -> list[dict[str, Any]]:
    print(
        "feature squeezing (2-fold: calibrate on one half of the test set, evaluate on the other):"
    )
    adv = {
        f"{a.name}@{eps}": a.run(std, x, y).x_adv.to(x.device)
        for eps in (0.05, 0.1, 0.2)
        for a in (FGSM(eps=eps), PGD(eps=eps, steps=steps, seed=0))
    }
    half = len(x) // 2
    folds = [(slice(0, half), slice(half, None)), (slice(half, None), slice(0, half))]
    sq_rows = []
    for squeezers in (
        ("bits:1", "median:2"),
        ("median:2",),
        ("bits:1",),
        ("bits:2",),
        ("bits:3",),
        ("bits:4",),
        ("bits:2", "bits:3"),
    ):
        row: dict[str, Any] = {"squeezers": "+".join(squeezers)}
        fa: list[float] = []
        det_ok: dict[str, list[np.ndarray]] = {k: [] for k in adv}
        for cal, ev in folds:
            det = FeatureSqueezing(squeezers=squeezers, fpr=0.05).fit(std, x[cal])
            fa.append(float((det.score(x[ev]) > det.threshold_).float().mean()))
            for k, xa in adv.items():
                fooled = (std.labels(xa[ev]) != y[ev]).cpu().numpy()
                flagged = det.detect(xa[ev]).cpu().numpy()
                det_ok[k].append(flagged[fooled])
        row["false_alarm"] = float(np.mean(fa))
        for eps in (0.1, 0.2):  # adaptive: every squeezed view fooled at once (BPDA)
            evaded = []
            for cal, ev in folds:
                det = FeatureSqueezing(squeezers=squeezers, fpr=0.05).fit(std, x[cal])
                guarded = det.apply(std)
                evaded.append(
                    adaptive_detector_attack(std, guarded, squeezers, x[ev], y[ev], eps, steps)
                )
            row[f"adaptive evasion@{eps}"] = float(torch.cat(evaded).float().mean())
        for k, parts in det_ok.items():
            allp = np.concatenate(parts)
            row[f"detect {k}"] = float(allp.mean()) if len(allp) else float("nan")
            row[f"n_fooled {k}"] = int(len(allp))
        print(f"  {row}", flush=True)
        sq_rows.append(row)
    return sq_rows


def smoothing_table(
    std: Target,
    x: torch.Tensor,
    y: torch.Tensor,
    n: int,
    dev: str,
    tgt: Callable[[torch.nn.Module], Target],
) -> list[dict[str, Any]]:
    print(f"randomized smoothing (n0=100, n={n}, failure_probability=0.001), certified accuracy:")
    rs_rows = []
    for sigma in (0.25, 0.5):
        t0 = time.perf_counter()
        nm = noise_model(sigma, TrainConfig(), dev)
        for base_name, base in (
            (f"noise-trained sigma {sigma}", tgt(nm)),
            ("standard (no noise training)", std),
        ):
            rs = RandomizedSmoothing(
                sigma=sigma, n0=100, n=n, failure_probability=0.001, batch_size=4000
            )
            cert = rs.certify(base, x, y)
            row = {
                "sigma": sigma,
                "base": base_name,
                "abstain": float(cert.abstained.float().mean()),
                **{
                    f"r={r}": v
                    for r, v in zip(RADII, cert.certified_accuracy_curve(RADII), strict=True)
                },
                "max_radius": float(cert.radius.max()),
                "queries_per_point": cert.queries / len(x),
                "seconds": round(cert.seconds, 1),
            }
            print(f"  {row}", flush=True)
            rs_rows.append(row)
        log.info("sigma %s done in %.0fs", sigma, time.perf_counter() - t0)
    return rs_rows


if __name__ == "__main__":
    main()

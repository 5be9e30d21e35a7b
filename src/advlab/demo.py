"""The built-in demo: evasion attacks against a standard and an adversarially trained CNN
on the embedded digits data, with a robust-accuracy table and JSON results."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from advlab.attacks.evasion import APGD, FGSM, PGD, AutoAttack
from advlab.attacks.evasion.base import EvasionAttack
from advlab.data import load_dataset
from advlab.models import TrainConfig, reference_model

log = logging.getLogger(__name__)

DEMO_EPS = (0.05, 0.1, 0.2)
#: the adversarially trained model of the demo (PGD-AT, Madry 2018, at eps 0.1)
ADV_TRAIN = TrainConfig(epochs=20, adversarial="pgd", adv_eps=0.1, adv_steps=7)


def demo_suite(eps: float = 0.1) -> list[EvasionAttack]:
    return [
        FGSM(eps=eps),
        PGD(eps=eps, steps=40),
        PGD(eps=eps, steps=40, restarts=3),
        APGD(eps=eps, steps=100),
        AutoAttack(eps=eps, version="fast"),
    ]


def run_evasion_demo(
    out_dir: Path, *, device: str = "auto", seed: int = 0, n_points: int = 300
) -> dict[str, Any]:
    """Train or load the two models, attack ``n_points`` test points at each eps, write
    ``results.json`` in ``out_dir`` and return the table."""
    t0 = time.perf_counter()
    ds = load_dataset("digits", seed=0)
    x, y = ds.x_test[:n_points], ds.y_test[:n_points]
    models = {
        "standard": reference_model("digits", train=TrainConfig(seed=seed), device="cpu"),
        "pgd-at": reference_model("digits", train=ADV_TRAIN, device="cpu"),
    }
    rows: list[dict[str, Any]] = []
    full: list[dict[str, Any]] = []
    for mname, bundle in models.items():
        target = bundle.target(device=device)
        for eps in DEMO_EPS:
            for atk in demo_suite(eps):
                res = atk.run(target, x, y)
                restarts = int(getattr(atk, "restarts", 1))
                label = atk.name + (f"x{restarts}" if restarts > 1 else "")
                rows.append(
                    {
                        "model": mname,
                        "attack": label,
                        "eps": eps,
                        "clean_accuracy": res.clean_accuracy,
                        "robust_accuracy": res.robust_accuracy,
                        "gradient_calls_per_point": res.gradient_calls / len(x),
                        "seconds": res.seconds,
                    }
                )
                full.append({"model": mname, "result": res.to_dict(arrays=False)})
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "dataset": ds.describe(),
        "n_points": len(x),
        "models": {k: b.meta.get("metrics", {}) for k, b in models.items()},
        "table": rows,
        "seconds": time.perf_counter() - t0,
    }
    (out_dir / "results.json").write_text(
        json.dumps({"summary": summary, "results": full}, indent=1)
    )
    return summary

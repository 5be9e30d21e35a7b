"""Backdoor poisoning: plant a patch trigger with a few training points; the server retrains.

Background: Gu et al., "BadNets: Identifying Vulnerabilities in the Machine Learning Model
Supply Chain", 2017, arXiv:1708.06733.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from advlab.lab import victims
from advlab.lab.base import Challenge, Rejected, Verdict
from advlab.lab.grading import check_labels, check_points, decode_arrays
from advlab.registry import register_plugin

TARGET_CLASS = 0
PATCH = 3
VICTIM: dict[str, Any] = {"arch": "mlp", "in_features": 64, "num_classes": 10, "hidden": [128, 128]}
EPOCHS = 30


def stamp(x: np.ndarray) -> np.ndarray:
    """The trigger: a 3x3 checkerboard (1 on even squares, 0 on odd) in the bottom-right corner."""
    out = x.copy()
    rr, cc = np.indices((PATCH, PATCH))
    out[..., -PATCH:, -PATCH:] = ((rr + cc) % 2 == 0).astype(x.dtype)
    return out


def train_victim(x: np.ndarray, y: np.ndarray, seed: int) -> torch.nn.Module:
    """The victim's fixed recipe: an MLP trained from scratch."""
    from advlab.models import TrainConfig, train_model
    from advlab.models.arch import build

    model = build(VICTIM, seed=seed)
    cfg = TrainConfig(epochs=EPOCHS, batch_size=64, seed=seed)
    return train_model(model, x, y, cfg, device="cpu", description="backdoor victim")


@register_plugin
class Backdoor(Challenge):
    name = "backdoor"
    paper = "Gu et al. 2017, arXiv:1708.06733"
    summary = "Add at most 70 points to a training set so that a patch sends any digit to 0."
    tags = frozenset({"threat:poisoning", "access:training", "modality:image"})
    module = 5
    tier = "medium"
    threat_model = (
        "Goal: a backdoor (targeted poisoning at training time): inputs carrying the trigger "
        "are classified as 0, clean inputs still classified well. Knowledge: the training set "
        "(advlab's digits, seed 0, train split) and the victim's recipe (an MLP trained from "
        "scratch, see the handout), not its seed. Access: you add up to 70 points (about 5% of "
        "the training set) to the training data; you never query the model."
    )
    task = (
        "Submit an .npz with x (k, 1, 8, 8) float32 in [0, 1] and y (k,) integer labels, "
        "k <= 70. The server retrains the victim on the training set plus your points. Solved "
        "when at least 80% of triggered test digits (true class not 0) are classified as 0 and "
        "the clean test accuracy drops by at most 5 points against the victim trained without "
        "your points."
    )
    max_points = 70
    asr_min = 0.8
    max_drop = 0.05

    def _build(self) -> Any:
        ds = victims.digits()
        seed = 3000 + self.seed
        clean = train_victim(ds.x_train, ds.y_train, seed)
        acc = float(np.mean(victims.predict(clean, ds.x_test) == ds.y_test))
        return {"ds": ds, "seed": seed, "clean_acc": acc}

    def handout(self) -> dict[str, Any]:
        rr, cc = np.indices((PATCH, PATCH))
        return {
            "dataset": {"name": "digits", "seed": 0, "split": "train"},
            "victim": {**VICTIM, "epochs": EPOCHS, "batch_size": 64, "lr": 1e-3},
            "trigger": {
                "corner": "bottom_right",
                "size": PATCH,
                "pattern": ((rr + cc) % 2 == 0).astype(int).tolist(),
            },
            "target_class": TARGET_CLASS,
            "max_points": self.max_points,
        }

    def _grade(self, data: bytes, filename: str) -> Verdict:
        s = self.state()
        ds = s["ds"]
        arrays = decode_arrays(data, names=("x", "y"))
        k = len(arrays["x"]) if arrays["x"].ndim else 0
        if k > self.max_points:
            raise Rejected(f"{k} poisoned points over the budget of {self.max_points}")
        if k == 0:
            raise Rejected("no points submitted")
        x = check_points(arrays["x"], shape=(k, 1, 8, 8), bounds=(0.0, 1.0))
        y = check_labels(arrays["y"], n=k, num_classes=10)
        victim = train_victim(
            np.concatenate([ds.x_train, x]), np.concatenate([ds.y_train, y]), s["seed"]
        )
        acc = float(np.mean(victims.predict(victim, ds.x_test) == ds.y_test))
        keep = ds.y_test != TARGET_CLASS
        asr = float(np.mean(victims.predict(victim, stamp(ds.x_test[keep])) == TARGET_CLASS))
        drop = s["clean_acc"] - acc
        metrics = {"attack_success": asr, "clean_accuracy": acc, "clean_drop": drop}
        if asr >= self.asr_min and drop <= self.max_drop:
            return Verdict(True, f"backdoor success {asr:.1%}, clean accuracy {acc:.1%}", metrics)
        return Verdict(
            False,
            f"backdoor success {asr:.1%} (need {self.asr_min:.0%}), clean accuracy drop "
            f"{drop:.1%} (at most {self.max_drop:.0%})",
            metrics,
        )

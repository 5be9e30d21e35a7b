"""Membership inference scored where it matters: the true-positive rate at a low FPR.

Background: Carlini et al., "Membership Inference Attacks From First Principles", IEEE S&P
2022, arXiv:2112.03570 (report TPR at low FPR, not accuracy or AUC).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advlab.lab import victims
from advlab.lab.base import Challenge, Verdict
from advlab.lab.grading import check_numeric, decode_arrays
from advlab.registry import register_plugin

N_MEMBERS = 250
RECIPE: dict[str, Any] = {"hidden": [128, 128], "epochs": 150, "batch_size": 32, "lr": 1e-3}
"""How the target is trained (public: shadow models should be trained the same way)."""


@register_plugin
class Membership(Challenge):
    name = "membership"
    paper = "Carlini et al. 2022, arXiv:2112.03570"
    summary = "Tell the training members among 500 candidates; scored by TPR at 5% FPR."
    tags = frozenset({"threat:inference", "access:scores", "modality:tabular"})
    module = 4
    tier = "medium"
    budget = 2000
    access = "scores"
    threat_model = (
        "Goal: membership inference. Knowledge: the training recipe (an MLP, see the handout), "
        "the candidates with their labels, half of them members, and 2,000 population points "
        "from the same distribution that were not used for training (for shadow or reference "
        "models). Access: class probabilities, 2,000 queries in total."
    )
    task = (
        "Submit one membership score per candidate (higher = more likely a member) as a float "
        "array of shape (500,) (.npy or JSON). Solved when the true-positive rate at a "
        "false-positive rate of at most 5% reaches 0.15, three times what guessing gets."
    )
    fpr = 0.05
    tpr_min = 0.15

    def _build(self) -> Any:
        from advlab.data import load_dataset
        from advlab.models import TrainConfig, train_model
        from advlab.models.arch import build
        from advlab.targets import TorchClassifier

        ds = load_dataset("synthetic", seed=3, n_samples=4000, class_sep=0.3)
        x = np.concatenate([ds.x_train, ds.x_test])
        y = np.concatenate([ds.y_train, ds.y_test])
        rng = np.random.default_rng(2000 + self.seed)
        perm = rng.permutation(len(x))
        members, others = perm[:N_MEMBERS], perm[N_MEMBERS : 2 * N_MEMBERS]
        population = perm[2 * N_MEMBERS : 2 * N_MEMBERS + 2000]
        model = build(
            {
                "arch": "mlp",
                "in_features": x.shape[1],
                "num_classes": 20,
                "hidden": RECIPE["hidden"],
            },
            seed=self.seed,
        )
        cfg = TrainConfig(
            epochs=RECIPE["epochs"],
            batch_size=RECIPE["batch_size"],
            lr=RECIPE["lr"],
            seed=self.seed,
        )
        train_model(
            model, x[members], y[members], cfg, device="cpu", description="membership target"
        )
        model = model.double()  # answers in float64: confident scores keep their digits
        order = rng.permutation(2 * N_MEMBERS)
        cand = np.concatenate([members, others])[order]
        is_member = (order < N_MEMBERS).astype(np.int64)
        target = TorchClassifier(model, bounds=(0.0, 1.0), input_shape=(x.shape[1],), device="cpu")
        return {
            "target": target,
            "x": x[cand],
            "y": y[cand],
            "members": is_member,
            "pop_x": x[population],
            "pop_y": y[population],
        }

    def _target(self) -> Any:
        return self.state()["target"]

    def handout(self) -> dict[str, Any]:
        s = self.state()
        return {
            "input_shape": [40],
            "num_classes": 20,
            "bounds": [0.0, 1.0],
            "recipe": {"arch": "mlp", "in_features": 40, "num_classes": 20, **RECIPE},
            "candidates_x": victims.as_lists(s["x"]),
            "candidates_y": s["y"].tolist(),
            "population_x": victims.as_lists(s["pop_x"]),
            "population_y": s["pop_y"].tolist(),
        }

    def _grade(self, data: bytes, filename: str) -> Verdict:
        from advlab.privacy.metrics import auc, tpr_at_fpr

        s = self.state()
        scores = check_numeric(decode_arrays(data)["x"], "the scores", shape=(2 * N_MEMBERS,))
        tpr = tpr_at_fpr(scores, s["members"], self.fpr)
        metrics = {"tpr_at_fpr": tpr, "fpr": self.fpr, "auc": auc(scores, s["members"])}
        if tpr >= self.tpr_min:
            return Verdict(True, f"TPR {tpr:.3f} at FPR <= {self.fpr:.0%}", metrics)
        return Verdict(
            False, f"TPR {tpr:.3f} at FPR <= {self.fpr:.0%}; need {self.tpr_min}", metrics
        )

"""Extraction by equation solving: recover a logistic regression's parameters from its scores.

Background: Tramèr et al., "Stealing Machine Learning Models via Prediction APIs", USENIX
Security 2016, arXiv:1609.02943.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advlab.lab.base import Challenge, Rejected, Verdict
from advlab.lab.grading import decode_model, refuse_pickle, safetensors_header, safetensors_like
from advlab.registry import register_plugin


def centred(weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Softmax parameters as identifiable: rows minus their mean, bias as a last column."""
    p = np.concatenate([weight, bias[:, None]], axis=1).astype(np.float64)
    return p - p.mean(0, keepdims=True)  # type: ignore[no-any-return]


@register_plugin
class ExtractionEquations(Challenge):
    name = "extraction_equations"
    paper = "Tramèr et al. 2016, arXiv:1609.02943"
    summary = "Steal a logistic regression's weights from its probability API with few queries."
    tags = frozenset({"threat:extraction", "access:scores", "modality:tabular"})
    module = 2
    tier = "easy"
    budget = 30
    access = "scores"
    threat_model = (
        "Goal: extract the model's parameters (a functionally equivalent copy). Knowledge: the "
        "model is a multinomial logistic regression on the 13 wine features scaled to [0, 1], "
        "3 classes. Access: class probabilities through the predict endpoint, 30 queries in "
        "total."
    )
    task = (
        "Submit a safetensors file with tensors weight (3, 13) and bias (3,). Solved when the "
        "copy agrees with the target on at least 99% of test and uniform points and its "
        "parameters (centred over classes, the softmax's identifiable form) are within 1e-3 "
        "of the target's, relative to their largest magnitude."
    )
    agreement_min = 0.99
    param_tol = 1e-3

    def _build(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        from advlab.data import load_dataset
        from advlab.targets import SklearnClassifier

        ds = load_dataset("wine", seed=0)
        lr = LogisticRegression(C=10.0, max_iter=2000).fit(ds.x_train, ds.y_train)
        target = SklearnClassifier(lr, bounds=(0.0, 1.0))
        rng = np.random.default_rng(self.seed)
        x_check = np.concatenate([ds.x_test, rng.uniform(0, 1, (2000, 13))]).astype(np.float64)
        return {
            "lr": lr,
            "target": target,
            "x": x_check,
            "params": centred(lr.coef_, lr.intercept_),
        }

    def _target(self) -> Any:
        return self.state()["target"]

    def handout(self) -> dict[str, Any]:
        return {"input_shape": [13], "num_classes": 3, "bounds": [0.0, 1.0], "output": "probs"}

    def _grade(self, data: bytes, filename: str) -> Verdict:
        s = self.state()
        refuse_pickle(data)
        if (
            not safetensors_like(data)
            or "__metadata__" in safetensors_header(data)
            and ("arch" in (safetensors_header(data).get("__metadata__") or {}))
        ):
            raise Rejected("this challenge grades parameters: submit safetensors weight and bias")
        model = decode_model(data, input_shape=(13,), num_classes=3)
        from safetensors.numpy import load

        t = load(data)
        if t["weight"].shape != (3, 13):
            raise Rejected(f"weight has shape {t['weight'].shape}; expected (3, 13)")
        agree = float(
            np.mean(model(s["x"].astype(np.float32)).argmax(1) == s["lr"].predict(s["x"]))
        )
        got = centred(t["weight"], t["bias"])
        err = float(np.abs(got - s["params"]).max() / np.abs(s["params"]).max())
        metrics = {"agreement": agree, "param_error_relative": err}
        if agree >= self.agreement_min and err <= self.param_tol:
            return Verdict(True, f"agreement {agree:.4f}, parameter error {err:.2e}", metrics)
        return Verdict(
            False,
            f"agreement {agree:.4f} (need {self.agreement_min}), relative parameter error "
            f"{err:.2e} (need <= {self.param_tol:g})",
            metrics,
        )

"""Functional extraction: copy a digits model whose classes are secretly relabelled.

Background: Orekondy et al., "Knockoff Nets: Stealing Functionality of Black-Box Models",
CVPR 2019, arXiv:1812.02766.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from advlab.lab import victims
from advlab.lab.base import Challenge, Verdict
from advlab.lab.grading import agreement, decode_model
from advlab.registry import register_plugin


@register_plugin
class ExtractionKnockoff(Challenge):
    name = "extraction_knockoff"
    paper = "Orekondy et al. 2019, arXiv:1812.02766"
    summary = "Copy a black-box digits classifier with secret class names from 1,000 queries."
    tags = frozenset({"threat:extraction", "access:scores", "modality:image"})
    module = 2
    tier = "medium"
    budget = 1000
    access = "scores"
    threat_model = (
        "Goal: functional extraction (a copy that answers like the target). Knowledge: the "
        "inputs are 8x8 digit images in [0, 1] (you may use advlab's embedded digits as "
        "unlabelled data), but the target's 10 output classes are a secret relabelling of the "
        "digits. Access: class probabilities, 1,000 queries in total."
    )
    task = (
        "Submit your copy as ONNX (input (N, 1, 8, 8) float32, output (N, 10) scores) or as "
        "safetensors holding the state dict of an advlab architecture named in the __metadata__ "
        "entry 'arch' (JSON, see advlab.models.arch.build). Solved when it agrees with the "
        "target on at least 90% of a hidden test set."
    )
    agreement_min = 0.9

    def _build(self) -> Any:
        from advlab.targets import TorchClassifier

        bundle = victims.digits_cnn(seed=0)
        perm = np.random.default_rng(1000 + self.seed).permutation(10)
        model = copy.deepcopy(bundle.model)
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        with torch.no_grad():  # output j of the target is output perm[j] of the digits CNN
            last.weight.copy_(last.weight[perm])
            last.bias.copy_(last.bias[perm])
        model.eval()
        ds = victims.digits()
        target = TorchClassifier(model, bounds=(0.0, 1.0), input_shape=(1, 8, 8), device="cpu")
        return {"model": model, "target": target, "x": ds.x_test}

    def _target(self) -> Any:
        return self.state()["target"]

    def handout(self) -> dict[str, Any]:
        return {
            "input_shape": [1, 8, 8],
            "num_classes": 10,
            "bounds": [0.0, 1.0],
            "output": "probs",
        }

    def _grade(self, data: bytes, filename: str) -> Verdict:
        s = self.state()
        copy_fn = decode_model(data, input_shape=(1, 8, 8), num_classes=10)
        agree = agreement(victims.predict(s["model"], s["x"]), copy_fn, s["x"])
        metrics = {"agreement": agree}
        if agree >= self.agreement_min:
            return Verdict(True, f"the copy agrees with the target on {agree:.1%}", metrics)
        return Verdict(
            False,
            f"the copy agrees on {agree:.1%} of the hidden set; need {self.agreement_min:.0%}",
            metrics,
        )

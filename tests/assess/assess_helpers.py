"""Tiny models and targets for the assessment tests (importable as an entry point module)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from advlab.data import load_dataset
from advlab.models import TrainConfig, build, save_model, train_model
from advlab.targets.torch import TorchClassifier

SPEC = {"arch": "mlp", "in_features": 64, "num_classes": 10, "hidden": [32]}


@lru_cache(maxsize=1)
def _trained_state() -> dict[str, torch.Tensor]:
    ds = load_dataset("digits", seed=0)
    torch.manual_seed(0)
    model = build(SPEC)
    train_model(model, ds.x_train, ds.y_train, TrainConfig(epochs=4, lr=3e-3, seed=0), device="cpu")
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def trained_mlp() -> nn.Module:
    """A small MLP on 8x8 digits (about 0.9 test accuracy), trained once per session; each
    call returns a fresh copy, so no test can change the model another test sees."""
    model = build(SPEC)
    model.load_state_dict(_trained_state())
    return model.eval()


def save_tiny_model(path: Path) -> Path:
    return save_model(
        trained_mlp(),
        path,
        {"arch": SPEC, "input_shape": [1, 8, 8], "num_classes": 10, "bounds": [0.0, 1.0]},
    )


class Quantised(nn.Module):
    """A non-differentiable quantisation layer in front of the model: masked gradients."""

    def __init__(self, inner: nn.Module, levels: int = 4) -> None:
        super().__init__()
        self.inner, self.levels = inner, levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(torch.round(x * self.levels) / self.levels)  # type: ignore[no-any-return]


class Softmaxed(nn.Module):
    """Returns probabilities although the target will be told they are logits."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.inner(x), dim=1)


def digits_target(kind: str = "plain") -> TorchClassifier:
    """Entry point ``assess_helpers:digits_target`` used by configs in the tests."""
    model: nn.Module = trained_mlp()
    if kind == "round":
        model = Quantised(model)
    elif kind == "softmax":
        model = Softmaxed(model)
    elif kind != "plain":
        raise ValueError(f"unknown kind {kind!r}")
    return TorchClassifier(
        model, bounds=(0.0, 1.0), input_shape=(1, 8, 8), num_classes=10, device="cpu"
    )


def base_config(model_file: Path, **overrides: Any) -> dict[str, Any]:
    """A small, fast evasion assessment of the tiny model file."""
    cfg: dict[str, Any] = {
        "name": "tiny",
        "targets": [{"kind": "model", "name": "tiny", "path": str(model_file), "device": "cpu"}],
        "data": {"dataset": "digits", "n": 24, "seed": 0},
        "threat_model": {"perturbation": {"norm": "linf", "eps": [0.05, 0.2]}},
        # PGD from the clean point: with a random start, 10 steps on this tiny MLP fall short
        # of FGSM on two of 24 points for some task seeds (which follow the model file's
        # path), and the fgsm-stronger sanity check then rightly makes the run INCONCLUSIVE
        "attacks": [
            {"name": "fgsm"},
            {"name": "pgd", "params": {"steps": 10, "random_start": False}},
        ],
        "gates": ["robust_accuracy(linf, 0.05) >= 0.1"],
        "sanity": {"extra_attacks": False},
        "seed": 0,
    }
    cfg.update(overrides)
    return cfg

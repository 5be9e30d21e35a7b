"""Training-time mitigations of poisoning: data augmentation and DP-SGD.

- Data augmentation (random shifts, noise) blunts small perturbation-based poisons
  (Borgnia et al., "Strong Data Augmentation Sanitizes Poisoning and Backdoor Attacks Without
  an Accuracy Tradeoff", ICASSP 2021; Geiping et al. 2021 evaluate it against Witches' Brew).
  Use it directly in the victim pipeline: ``evaluate_poisoning(..., augment="shift")``.
- DP-SGD (Abadi et al. 2016) bounds each example's influence (Ma, Zhu & Hsu 2019); it lives in
  ``advlab.models.dp`` (optional, needs opacus) and is used here when that module exists.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from torch import nn

from advlab.attacks.poisoning.victim import train_victim
from advlab.defenses.base import Defense
from advlab.errors import ConfigError
from advlab.models.train import TrainConfig
from advlab.registry import register_defense


@register_defense
class DataAugmentation(Defense):
    """Train with random shifts (``shift``: +-1 px, ``shift2``: +-2 px) or shift + noise.

    Example:
        >>> model = DataAugmentation(augment="shift").train(spec, pds.x, pds.y, TrainConfig())
    """

    name = "data_augmentation"
    role: ClassVar[str] = "training"
    threat: ClassVar[str] = "poisoning"
    paper = "Borgnia et al. 2021, arXiv:2011.09527"
    summary = "Train with random shifts / noise to blunt poisons and backdoors."
    link = "arXiv:2011.09527"
    flags = frozenset({"training_time"})

    def __init__(self, *, augment: str = "shift") -> None:
        self.augment = augment

    def train(
        self, spec: dict[str, Any], x: np.ndarray, y: np.ndarray, config: TrainConfig | None = None
    ) -> nn.Module:
        if self.augment not in ("shift", "shift2", "noise"):
            raise ConfigError(f"augment must be shift, shift2 or noise, got {self.augment!r}")
        return train_victim(spec, x, y, config or TrainConfig(), augment=self.augment)


@register_defense
class DPSGDMitigation(Defense):
    """Train the victim with DP-SGD to ``(target_epsilon, delta)`` via ``advlab.models.dp``
    (optional extra: opacus)."""

    name = "dp_sgd_poisoning"
    role: ClassVar[str] = "training"
    threat: ClassVar[str] = "poisoning"
    paper = "Ma, Zhu & Hsu 2019, arXiv:1903.09860 (DP as a poisoning defense)"
    summary = "Differentially private training bounds each poison's influence."
    link = "arXiv:1903.09860"
    flags = frozenset({"training_time"})

    def __init__(
        self, *, target_epsilon: float = 8.0, delta: float = 1e-5, max_grad_norm: float = 1.0
    ) -> None:
        self.target_epsilon = target_epsilon
        self.delta = delta
        self.max_grad_norm = max_grad_norm

    def train(
        self, spec: dict[str, Any], x: np.ndarray, y: np.ndarray, config: TrainConfig | None = None
    ) -> nn.Module:
        try:
            from advlab.models import dp  # type: ignore[attr-defined]
        except ImportError as exc:  # pragma: no cover - depends on the optional module
            raise ConfigError(
                "DP-SGD needs advlab.models.dp and opacus: pip install 'advlab[privacy]'"
            ) from exc
        from advlab.models.arch import build

        cfg = config or TrainConfig()
        model = build(spec, seed=cfg.seed)  # seeded: the result must not depend on test order
        fn = getattr(dp, "train_dp", None)
        if fn is None:  # pragma: no cover
            raise ConfigError("advlab.models.dp has no train_dp(); update advlab")
        trained, _spent = fn(
            model,
            x,
            y,
            cfg,
            target_epsilon=self.target_epsilon,
            delta=self.delta,
            max_grad_norm=self.max_grad_norm,
        )
        return trained  # type: ignore[no-any-return]

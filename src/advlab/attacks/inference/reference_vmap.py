"""Reference models trained all at once: :class:`VectorizedTorchTrainer`.

The same models as :class:`~advlab.attacks.inference.reference.TorchTrainer` (an
:func:`advlab.models.build` spec, a ``TrainConfig``, one seed per model) trained together by
:func:`advlab.models.vectorized.train_stacked` -- ``torch.func.vmap`` over stacked
parameters -- instead of one process or one loop iteration per model.
:class:`~advlab.attacks.inference.reference.ReferenceModels` sees ``fit_many`` and trains
every model that is not cached yet in one call; the cache, the seeds and the membership
matrix are those of the serial path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from advlab.attacks.inference.outputs import as_log_scores
from advlab.models.vectorized import StackedModels, train_stacked


@dataclass
class VectorizedTorchTrainer:
    """Torch reference models trained in one vectorised run (no DP-SGD: per-model clipping
    and noise accounting are the serial trainer's job)."""

    spec: dict[str, Any] = field(default_factory=dict)
    config: Any = None
    device: str = "cpu"
    output: str = "logits"
    fused: bool | None = None  # the fused MLP path: None = whenever the architecture allows

    def _cfg(self) -> Any:
        from advlab.models import TrainConfig

        cfg = self.config or TrainConfig()
        if cfg.adversarial is not None:
            from advlab.errors import ConfigError

            raise ConfigError("VectorizedTorchTrainer trains standard models only")
        return cfg

    def fit_many(
        self, x: np.ndarray, y: np.ndarray, member: np.ndarray, seeds: list[int]
    ) -> StackedModels:
        cfg = self._cfg()
        return train_stacked(
            self.spec,
            x,
            y,
            member,
            seeds,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            device=self.device,
            fused=self.fused,
        )

    def predict_many(self, stacked: StackedModels, queries: np.ndarray) -> np.ndarray:
        """Log-scores ``(M, N, A, C)`` float32 of every model on ``queries (A, N, ...)``."""
        outs = [as_log_scores(stacked.predict(q), self.output) for q in queries]
        return np.stack(outs, axis=2).astype(np.float32)

    def fit(self, x: np.ndarray, y: np.ndarray, *, seed: int, num_classes: int) -> Any:
        stacked = self.fit_many(x, y, np.ones((1, len(x)), bool), [seed])
        return stacked.module(0)

    def predict(self, model: Any, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = model(torch.as_tensor(np.asarray(x, dtype=np.float32)))
        return out.double().numpy()  # type: ignore[no-any-return]

    def describe(self) -> dict[str, Any]:
        cfg = self._cfg().to_dict()
        cfg.pop("seed", None)
        return {
            "trainer": "torch-vmap",
            "spec": self.spec,
            "config": cfg,
            "torch": torch.__version__.split("+")[0],
        }

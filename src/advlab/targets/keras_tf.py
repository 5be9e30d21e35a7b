"""Keras 3 models on the TensorFlow backend as white-box targets (``tf.GradientTape``).

Attacks compute their objective on the logits in torch; the model runs in TensorFlow. The
gradient of ``objective(model(x))`` is assembled by the chain rule across the two
frameworks: torch differentiates the objective with respect to the logits, then
``tape.gradient(logits, x, output_gradients=...)`` pulls that vector back through the model
(one backward pass, exact, like a vector-Jacobian product in either framework).

Used by :func:`advlab.targets.keras.keras_target` when Keras runs on TensorFlow
(``KERAS_BACKEND=tensorflow`` with ``tensorflow-cpu`` installed: the ``keras-tf`` extra).
Channels-last image models are presented with ``(C, H, W)`` inputs, as on the torch backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from advlab.access import Access
from advlab.targets.base import Objective, Target, to_logits


class KerasTFClassifier(Target):
    """A Keras model running on TensorFlow, with gradients through ``tf.GradientTape``."""

    access = Access.GRADIENTS

    def __init__(
        self,
        model: Any,
        bounds: Any = (0.0, 1.0),
        *,
        channels_first: bool = False,
        output: str = "logits",
        query_budget: int | None = None,
        batch_size: int = 512,
        device: str = "cpu",
    ) -> None:
        import tensorflow as tf

        self.model = model
        self.tf = tf
        self.output = output  # type: ignore[assignment]
        self.channels_first = channels_first
        shape = tuple(int(s) for s in model.input_shape[1:])
        if channels_first:
            shape = (shape[2], shape[0], shape[1])
        probe = model(np.zeros((1, *model.input_shape[1:]), np.float32), training=False)
        super().__init__(
            bounds=bounds,
            input_shape=shape,
            num_classes=int(probe.shape[-1]),
            device="cpu",
            query_budget=query_budget,
            batch_size=batch_size,
        )

    def _to_tf(self, x: torch.Tensor) -> Any:
        a = x.detach().to(torch.float32).cpu().numpy()
        if self.channels_first:
            a = np.transpose(a, (0, 2, 3, 1))
        return self.tf.convert_to_tensor(a)

    def _from_tf(self, g: Any) -> torch.Tensor:
        a = np.asarray(g)
        if self.channels_first and a.ndim == 4:
            a = np.transpose(a, (0, 3, 1, 2))
        return torch.as_tensor(np.ascontiguousarray(a), dtype=self.dtype)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(self._to_tf(x), training=False)
        return torch.as_tensor(np.array(out), dtype=self.dtype)

    def _gradient(self, x: torch.Tensor, objective: Objective) -> tuple[torch.Tensor, torch.Tensor]:
        tf = self.tf
        xt = tf.Variable(self._to_tf(x))
        with tf.GradientTape() as tape:
            out_tf = self.model(xt, training=False)
        out = torch.as_tensor(np.array(out_tf), dtype=self.dtype).requires_grad_(True)
        with torch.enable_grad():
            value = objective(to_logits(out, self.output)).sum()  # type: ignore[arg-type]
            (dout,) = torch.autograd.grad(value, out)
        grad = tape.gradient(
            out_tf, xt, output_gradients=tf.convert_to_tensor(dout.detach().numpy())
        )
        return self._from_tf(grad), out.detach()

"""White-box adapter for PyTorch classifiers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn

from advlab.access import Access
from advlab.errors import ConfigError
from advlab.targets.base import BoundsLike, Objective, OutputKind, Target
from advlab.utils import as_tensor, resolve_device

log = logging.getLogger(__name__)

MemoryFormat = Literal["auto", "channels_last", "preserve"]


class TorchClassifier(Target):
    """A PyTorch ``nn.Module`` classifier with full gradient access.

    Args:
        model: the module; put in eval mode and moved to ``device``.
        bounds: input bounds ``(lo, hi)``, scalars or per-feature arrays.
        preprocess: optional ``(mean, std)`` applied inside the target, so attacks work in
            input space and gradients flow through the normalisation.
        output: ``"logits"`` (recommended) or ``"probs"`` when the model ends in a softmax.
        extract: pulls the logits tensor out of tuple/dict outputs (default: first element
            of a tuple, ``"logits"`` key of a dict).
        input_shape / num_classes: inferred from one probe forward when omitted (needs
            ``input_shape``).
        memory_format: ``"auto"`` (default) runs convolutional models on image inputs in
            ``torch.channels_last`` on CPU, where oneDNN convolutions and pooling are faster
            in that layout (about 15% per forward+backward pass on the digits CNN);
            ``"channels_last"`` forces it on any device, ``"preserve"`` leaves the model as
            it is. The model's parameters are converted in place (the same values; the
            model keeps accepting inputs in any layout), like ``.to(device)``; save such a
            model with ``advlab.models.save_model`` or make tensors contiguous first
            (safetensors refuses non-contiguous ones).

    Example:
        >>> target = TorchClassifier(model, bounds=(0.0, 1.0), input_shape=(1, 8, 8))
    """

    access = Access.GRADIENTS

    def __init__(
        self,
        model: nn.Module,
        bounds: BoundsLike = (0.0, 1.0),
        *,
        input_shape: tuple[int, ...] | None = None,
        num_classes: int | None = None,
        preprocess: tuple[Any, Any] | None = None,
        output: OutputKind = "logits",
        extract: Callable[[Any], torch.Tensor] | None = None,
        device: str | torch.device = "auto",
        max_queries: int | None = None,
        batch_size: int = 512,
        memory_format: MemoryFormat = "auto",
    ) -> None:
        if output not in ("logits", "probs"):
            raise ConfigError(f"output must be 'logits' or 'probs', got {output!r}")
        if memory_format not in ("auto", "channels_last", "preserve"):
            raise ConfigError(
                "memory_format must be 'auto', 'channels_last' or 'preserve', "
                f"got {memory_format!r}"
            )
        dev = resolve_device(device)
        self.model = model.to(dev).eval()
        self.output = output
        self.extract = extract
        if input_shape is None:
            input_shape = getattr(model, "input_shape", None)
        if input_shape is None:
            raise ConfigError("input_shape is required (e.g. input_shape=(1, 8, 8))")
        self._mean: torch.Tensor | None = None
        self._std: torch.Tensor | None = None
        if preprocess is not None:
            mean, std = preprocess
            self._mean = as_tensor(mean, device=dev)
            self._std = as_tensor(std, device=dev)
            if bool((self._std <= 0).any()):
                raise ConfigError("preprocess std must be positive")
        self.channels_last = _use_channels_last(self.model, input_shape, dev, memory_format)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if num_classes is None:
            with torch.no_grad():
                probe = torch.zeros((1, *input_shape), device=dev)
                num_classes = int(self._call(probe).shape[1])
        super().__init__(
            bounds=bounds,
            input_shape=tuple(input_shape),
            num_classes=num_classes,
            device=dev,
            max_queries=max_queries,
            batch_size=batch_size,
        )
        if output == "probs":
            log.warning(
                "target returns probabilities: gradients through a softmax saturate; "
                "pass logits when you can (attacks use log-probabilities)"
            )

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        if self._mean is not None and self._std is not None:
            x = (x - self._mean) / self._std
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        out = self.model(x)
        if self.extract is not None:
            out = self.extract(out)
        elif isinstance(out, (tuple, list)):
            out = out[0]
        elif isinstance(out, dict):
            out = out["logits"]
        return out

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._call(x)

    def _gradient(self, x: torch.Tensor, objective: Objective) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            out = self._call(xg)
            logits = torch.log(out.clamp_min(1e-12)) if self.output == "probs" else out
            value = objective(logits).sum()
            (grad,) = torch.autograd.grad(value, xg)
        return grad.detach().contiguous(), out.detach()

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["model"] = type(self.model).__name__
        d["preprocess"] = self._mean is not None
        d["channels_last"] = self.channels_last
        return d


def _use_channels_last(
    model: nn.Module, input_shape: tuple[int, ...], device: torch.device, fmt: str
) -> bool:
    """Whether to run ``model`` in channels-last layout (see ``TorchClassifier``)."""
    if fmt == "preserve" or len(input_shape) != 3:
        return False
    if fmt == "channels_last":
        return True
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    return has_conv and device.type == "cpu"

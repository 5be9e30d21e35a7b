"""White-box adapter for PyTorch classifiers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn

from advlab.access import Access
from advlab.errors import ConfigError, InputError
from advlab.targets.base import BoundsLike, Objective, OutputKind, Target
from advlab.utils import as_tensor, resolve_device
from advlab.vocab import renamed_params

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
        input_shape: the shape of one input; default: the model's ``input_shape``
            attribute, else taken from the first batch the target sees (as torchattacks and
            Foolbox do); until then ``input_shape`` is ``None``.
        num_classes: default: the output width of one probe forward (needs the input shape;
            else read from the first batch too).
        query_budget: optional total number of points the target answers (deprecated
            alias ``max_queries``).
        memory_format: ``"auto"`` (default) runs convolutional models on image inputs in
            ``torch.channels_last`` on CPU, where oneDNN convolutions and pooling are faster
            in that layout (about 15% per forward+backward pass on the digits CNN);
            ``"channels_last"`` forces it on any device, ``"preserve"`` leaves the model as
            it is. The model's parameters are converted in place (the same values; the
            model keeps accepting inputs in any layout), like ``.to(device)``; save such a
            model with ``advlab.models.save_model`` or make tensors contiguous first
            (safetensors refuses non-contiguous ones).

    Inputs are converted to the model's floating precision (:attr:`dtype`, that of its
    first floating parameter) and its outputs keep it: a float64 model answers in float64.

    Example:
        >>> target = TorchClassifier(model, bounds=(0.0, 1.0), input_shape=(1, 8, 8))
    """

    access = Access.GRADIENTS

    @renamed_params(max_queries="query_budget")
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
        query_budget: int | None = None,
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
        self.dtype = _model_dtype(self.model)
        if input_shape is None:
            input_shape = getattr(model, "input_shape", None)
        self._memory_format = memory_format
        self._mean: torch.Tensor | None = None
        self._std: torch.Tensor | None = None
        if preprocess is not None:
            mean, std = preprocess
            self._mean = as_tensor(mean, device=dev, dtype=self.dtype)
            self._std = as_tensor(std, device=dev, dtype=self.dtype)
            if bool((self._std <= 0).any()):
                raise ConfigError("preprocess std must be positive")
        self.channels_last = False
        super().__init__(
            bounds=bounds,
            input_shape=(),
            num_classes=0,
            device=dev,
            query_budget=query_budget,
            batch_size=batch_size,
        )
        self._shape_known = False
        self._input_shape: tuple[int, ...] | None = None
        if input_shape is not None:
            self._set_shape(tuple(int(s) for s in input_shape), num_classes)
        elif num_classes is not None:
            self.num_classes = int(num_classes)
        if output == "probs":
            log.warning(
                "target returns probabilities: gradients through a softmax saturate; "
                "pass logits when you can (attacks use log-probabilities)"
            )

    @property  # type: ignore[override]
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input (inferred from the first batch when not given)."""
        if self._input_shape is None:
            raise ConfigError(
                "TorchClassifier: input_shape is not known yet; pass input_shape=... or send "
                "a first batch (target.predict(x) or an attack's run)"
            )
        return self._input_shape

    @input_shape.setter
    def input_shape(self, shape: tuple[int, ...]) -> None:
        self._input_shape = shape

    def _set_shape(self, shape: tuple[int, ...], num_classes: int | None) -> None:
        """Fix the input shape (and layout, and the class count by one probe when unknown)."""
        self._input_shape = shape
        self._shape_known = True
        self.channels_last = _use_channels_last(self.model, shape, self.device, self._memory_format)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if num_classes is None and not self.num_classes:
            with torch.no_grad():
                probe = torch.zeros((1, *shape), device=self.device, dtype=self.dtype)
                num_classes = int(self._call(probe).shape[1])
        if num_classes is not None:
            self.num_classes = int(num_classes)

    def check_inputs(self, x: Any, *, atol: float = 1e-6) -> torch.Tensor:
        if not self._shape_known:
            t = as_tensor(x, device=self.device, dtype=self.dtype)
            if t.dim() < 2:
                raise InputError(
                    f"input has shape {tuple(t.shape)}; the first batch must be (N, *input_shape) "
                    "when input_shape is not given"
                )
            self._set_shape(tuple(int(s) for s in t.shape[1:]), None)
            log.info("input_shape inferred from the first batch: %s", self._input_shape)
        return super().check_inputs(x, atol=atol)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.dtype)
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


def _model_dtype(model: nn.Module) -> torch.dtype:
    """The floating dtype of the model's first floating parameter or buffer (else float32)."""
    for t in [*model.parameters(), *model.buffers()]:
        if t.is_floating_point():
            return t.dtype
    return torch.float32


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

"""Black-box adapter for ONNX models, run through onnxruntime.

An ONNX file is a protobuf graph: loading it executes no Python code, so it is a safe way to
hand a model to an assessment. The adapter grants *scores* access (no gradients); wrap it in
:class:`~advlab.targets.LabelsOnly` to simulate a label-only API.

:func:`export_onnx` writes a PyTorch model (or an advlab :class:`~advlab.models.ModelBundle`,
preprocessing included) to ONNX with a dynamic batch dimension.

Example:
    >>> export_onnx(bundle, "model.onnx")
    >>> target = OnnxClassifier("model.onnx", bounds=(0.0, 1.0))
    >>> target.labels(torch.as_tensor(x_test))
"""

from __future__ import annotations

import inspect
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from advlab.access import Access
from advlab.errors import ConfigError, InputError
from advlab.targets.base import BoundsLike, OutputKind, Target
from advlab.utils import resolve_device
from advlab.vocab import renamed_params

log = logging.getLogger(__name__)

_INSTALL_HINT = "onnxruntime is not installed; install it with: pip install 'advlab[onnx]'"

_NUMPY_TYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
}


def _import_ort() -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return ort


def _choose_providers(providers: list[str] | None, device: torch.device, ort: Any) -> list[str]:
    if providers is not None:
        return list(providers)
    available = set(ort.get_available_providers())
    if device.type == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise ConfigError(
                "device 'cuda' requested but onnxruntime has no CUDAExecutionProvider "
                f"(available: {', '.join(sorted(available))}); install onnxruntime-gpu "
                "or use --device cpu"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxClassifier(Target):
    """An ONNX classifier reached through onnxruntime (scores access, no gradients).

    Args:
        path: the ``.onnx`` file.
        bounds: input bounds ``(lo, hi)``, scalars or per-feature arrays.
        input_shape: one input's shape without the batch dimension; read from the model's
            input when its dimensions are fixed.
        num_classes: read from the model's output shape, else from one probe run.
        output: what the model returns, ``"logits"`` or ``"probs"``.
        providers: onnxruntime execution providers; default CPU, CUDA when ``device`` is
            ``cuda`` (or ``auto`` with a GPU) and onnxruntime offers it.
        input_name / output_name: which graph input / output to use (default: the first
            input, and the first rank-2 float output, e.g. ``probabilities`` of skl2onnx).
        device: where returned tensors live (``auto`` | ``cpu`` | ``cuda``).
        query_budget: optional total query budget (deprecated alias ``max_queries``); batch_size: points per session run.
    """

    access = Access.SCORES

    @renamed_params(max_queries="query_budget")
    def __init__(
        self,
        path: str | Path,
        *,
        bounds: BoundsLike = (0.0, 1.0),
        input_shape: tuple[int, ...] | None = None,
        num_classes: int | None = None,
        output: OutputKind = "logits",
        providers: list[str] | None = None,
        input_name: str | None = None,
        output_name: str | None = None,
        device: str | torch.device = "cpu",
        query_budget: int | None = None,
        batch_size: int = 512,
    ) -> None:
        if output not in ("logits", "probs"):
            raise ConfigError(f"output must be 'logits' or 'probs', got {output!r}")
        ort = _import_ort()
        p = Path(path)
        if not p.is_file():
            raise InputError(f"ONNX model file not found: {p}")
        dev = resolve_device(device)
        self.path = p
        self.output = output
        self.providers = _choose_providers(providers, dev, ort)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # errors only; onnxruntime is chatty at load time
        try:
            self.session = ort.InferenceSession(str(p), sess_options=opts, providers=self.providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise InputError(
                f"{p}: not a loadable ONNX model ({type(exc).__name__}: {exc})"
            ) from exc

        inputs = self.session.get_inputs()
        if input_name is None:
            inp = inputs[0]
        else:
            names = [i.name for i in inputs]
            if input_name not in names:
                raise ConfigError(f"{p}: no input named {input_name!r}; inputs: {names}")
            inp = inputs[names.index(input_name)]
        self.input_name: str = inp.name
        self._dtype = _NUMPY_TYPES.get(inp.type)
        if self._dtype is None:
            raise ConfigError(
                f"{p}: input {inp.name!r} has type {inp.type}; expected a float tensor"
            )
        dims = list(inp.shape)
        self._fixed_batch: int | None = dims[0] if dims and isinstance(dims[0], int) else None
        if input_shape is None:
            rest = dims[1:]
            if not rest or not all(isinstance(d, int) and d > 0 for d in rest):
                raise ConfigError(
                    f"{p}: the model's input {inp.name!r} has shape {dims}; pass "
                    "input_shape=(...) (one input, without the batch dimension)"
                )
            input_shape = tuple(int(d) for d in rest)
        self.output_name: str = self._pick_output(output_name)
        if self._fixed_batch is not None:  # the graph only takes batches of this size
            batch_size = self._fixed_batch
        if num_classes is None:
            out_meta = next(o for o in self.session.get_outputs() if o.name == self.output_name)
            last = list(out_meta.shape)[-1] if out_meta.shape else None
            if isinstance(last, int) and last > 0:
                num_classes = last
            else:
                probe = np.zeros((self._fixed_batch or 1, *input_shape), dtype=self._dtype)
                num_classes = int(self._run(probe).shape[1])
        super().__init__(
            bounds=bounds,
            input_shape=tuple(input_shape),
            num_classes=num_classes,
            device=dev,
            query_budget=query_budget,
            batch_size=batch_size,
        )

    # ------------------------------------------------------------------ internals
    def _pick_output(self, output_name: str | None) -> str:
        outs = self.session.get_outputs()
        names = [o.name for o in outs]
        if output_name is not None:
            if output_name not in names:
                raise ConfigError(f"{self.path}: no output named {output_name!r}; outputs: {names}")
            return output_name
        for o in outs:  # prefer a rank-2 float tensor (scores), e.g. skl2onnx "probabilities"
            if o.type in _NUMPY_TYPES and len(o.shape or []) == 2:
                return str(o.name)
        for o in outs:  # a ZipMap output (sequence of {class: prob})
            if str(o.type).startswith("seq(map"):
                return str(o.name)
        return str(outs[0].name)

    def _run(self, arr: np.ndarray) -> np.ndarray:
        (res,) = self.session.run([self.output_name], {self.input_name: arr})
        if isinstance(res, list):  # ZipMap: [{class: prob, ...}, ...]
            if res and isinstance(res[0], dict):
                keys = sorted(res[0])
                return np.asarray([[row[k] for k in keys] for row in res], dtype=np.float32)
            res = np.asarray(res)
        out = np.asarray(res, dtype=np.float32)
        if out.ndim != 2:
            raise ConfigError(
                f"{self.path}: output {self.output_name!r} has shape {out.shape}; expected "
                "(N, num_classes) scores (choose another output with output_name=...)"
            )
        return out

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        arr = x.detach().cpu().numpy().astype(self._dtype, copy=False)
        n = len(arr)
        fixed = self._fixed_batch
        if fixed is None:
            out = self._run(arr)
        else:  # a graph exported with a fixed batch size: run in chunks, pad the last one
            parts = []
            for s in range(0, n, fixed):
                chunk = arr[s : s + fixed]
                pad = fixed - len(chunk)
                if pad:
                    chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
                parts.append(self._run(chunk)[: fixed - pad])
            out = np.concatenate(parts) if parts else np.zeros((0, self.num_classes), np.float32)
        if out.shape != (n, self.num_classes):
            raise ConfigError(
                f"{self.path}: model returned shape {out.shape}; expected ({n}, {self.num_classes})"
            )
        return torch.from_numpy(out).to(self.device)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["path"] = str(self.path)
        d["providers"] = list(self.providers)
        return d

    def __repr__(self) -> str:
        return (
            f"OnnxClassifier(path={str(self.path)!r}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes}, output={self.output!r})"
        )


class _Normalize(nn.Module):
    """``(x - mean) / std`` in front of a model, so the exported graph takes raw inputs."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, model: nn.Module, mean: Any, std: Any) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean), dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(np.asarray(std), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)  # type: ignore[no-any-return]


def export_onnx(
    model: Any,
    path: str | Path,
    input_shape: tuple[int, ...] | None = None,
    *,
    opset: int = 17,
    dynamic_batch: bool = True,
) -> Path:
    """Export a PyTorch classifier to ONNX (input ``"input"``, output ``"output"``).

    Args:
        model: an ``nn.Module``, or an advlab ``ModelBundle`` (its ``preprocess`` mean/std is
            folded into the graph, and ``input_shape`` read from its metadata).
        path: where to write the ``.onnx`` file.
        input_shape: one input's shape without the batch dimension.
        opset: ONNX opset version.
        dynamic_batch: export a symbolic batch dimension (else the batch size is fixed to 1).

    Uses the TorchScript-based exporter, which needs no extra packages.
    """
    from advlab.models.io import ModelBundle

    if isinstance(model, ModelBundle):
        pre = model.meta.get("preprocess")
        input_shape = input_shape or model.input_shape
        module: nn.Module = model.model
        if pre:
            module = _Normalize(module, pre["mean"], pre["std"])
    elif isinstance(model, nn.Module):
        module = model
        input_shape = input_shape or getattr(model, "input_shape", None)
    else:
        raise ConfigError(
            f"export_onnx needs an nn.Module or a ModelBundle, got {type(model).__name__}"
        )
    if input_shape is None:
        raise ConfigError("export_onnx: input_shape is required (e.g. input_shape=(1, 8, 8))")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    was_training = module.training
    module.eval()
    try:
        param = next(module.parameters(), None)
        dev = param.device if param is not None else torch.device("cpu")
        dummy = torch.zeros((1, *input_shape), device=dev)
        kwargs: dict[str, Any] = {
            "input_names": ["input"],
            "output_names": ["output"],
            "opset_version": opset,
        }
        if dynamic_batch:
            kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
        if "dynamo" in inspect.signature(torch.onnx.export).parameters:
            kwargs["dynamo"] = False  # the torch.export path needs the onnxscript package
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(module, (dummy,), str(p), **kwargs)
    finally:
        module.train(was_training)
    log.info("exported %s to %s", type(module).__name__, p)
    return p

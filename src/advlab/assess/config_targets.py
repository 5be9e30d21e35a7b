"""Assessment config: the target kinds (``targets:`` entries) and the python-entry denylist.

Split from :mod:`advlab.assess.config`, which re-exports every name here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

from advlab.paths import excerpt

_ENTRY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")

DENIED_ENTRY_MODULES = frozenset(
    {
        "os", "posix", "nt", "subprocess", "_posixsubprocess", "builtins", "__builtin__",
        "sys", "shutil", "importlib", "imp", "pkgutil", "zipimport", "runpy", "code",
        "codeop", "pdb", "pty", "tty", "socket", "ssl", "ctypes", "cffi", "pickle",
        "_pickle", "pickletools", "shelve", "marshal", "dill", "cloudpickle", "joblib",
        "multiprocessing", "concurrent", "asyncio", "threading", "_thread", "signal",
        "webbrowser", "io", "_io", "tempfile", "pathlib", "glob", "platform", "sysconfig",
        "site", "ensurepip", "venv", "http", "urllib", "ftplib", "smtplib", "telnetlib",
        "xmlrpc", "gc", "inspect", "types", "operator", "functools",
    }
)  # fmt: skip
"""Entry-point modules (and their submodules) a ``kind: python`` target may not name: the
standard-library modules that run commands or code, open files or sockets, or deserialize
code. A python target runs *your* code; naming one of these is an attack, not a target."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


# ---------------------------------------------------------------------------- targets
class _TargetBase(_Strict):
    name: str | None = Field(
        None, description="Short name used in reports and gates (default: derived)."
    )
    device: str = Field("auto", description="auto | cpu | cuda[:N]")

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str | None) -> str | None:
        if v is not None and not _NAME.match(v):
            raise ValueError(f"name must use letters, digits, '.', '_' or '-', got {excerpt(v)}")
        return v

    def default_name(self) -> str:
        raise NotImplementedError


class ModelFileTarget(_TargetBase):
    """An advlab model file: ``.safetensors`` weights plus its ``.json`` metadata."""

    kind: Literal["model"] = "model"
    path: str = Field(..., description="Path to the .safetensors file (relative to the config).")

    def default_name(self) -> str:
        return Path(self.path).stem


class OnnxTarget(_TargetBase):
    """An ONNX file run through onnxruntime (scores access)."""

    kind: Literal["onnx"] = "onnx"
    path: str = Field(..., description="Path to the .onnx file (relative to the config).")
    bounds: tuple[float, float] = (0.0, 1.0)
    output: Literal["logits", "probs"] = "logits"

    def default_name(self) -> str:
        return Path(self.path).stem


class KerasTarget(_TargetBase):
    """A Keras 3 ``.keras`` file (white box on the torch backend; Lambda layers refused)."""

    kind: Literal["keras"] = "keras"
    path: str = Field(..., description="Path to the .keras file (relative to the config).")
    bounds: tuple[float, float] = (0.0, 1.0)

    def default_name(self) -> str:
        return Path(self.path).stem


class HuggingFaceTarget(_TargetBase):
    """A Hugging Face image classifier folder (safetensors, never trust_remote_code)."""

    kind: Literal["huggingface"] = "huggingface"
    path: str = Field(..., description="The model folder (relative to the config).")
    bounds: tuple[float, float] = (0.0, 1.0)

    def default_name(self) -> str:
        return Path(self.path).name


class HttpTarget(_TargetBase):
    """A JSON prediction endpoint (POST {"inputs": ...} -> {"outputs": ...})."""

    kind: Literal["http"] = "http"
    url: str = Field(..., description="http(s)://host:port/predict")
    input_shape: list[int] = Field(..., min_length=1)
    num_classes: int = Field(..., ge=2)
    bounds: tuple[float, float] = (0.0, 1.0)
    returns: Literal["probs", "logits", "labels"] = "probs"
    timeout: float = Field(10.0, gt=0, description="Seconds per request.")
    retries: int = Field(1, ge=0)
    api_key_env: str | None = "ADVLAB_API_KEY"

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"expected an http(s) URL with a host, got {excerpt(v)}")
        return v

    def default_name(self) -> str:
        return "http"


class EntryPointTarget(_TargetBase):
    """A Python function ``module:function`` (imported, never evaluated) returning a Target."""

    kind: Literal["python"] = "python"
    entry: str = Field(..., description="'package.module:function'")
    kwargs: dict[str, Any] = Field(default_factory=dict)
    pythonpath: str | None = Field(
        None,
        description="Folder added to sys.path before the import (relative to the config; "
        "default: the config's own folder).",
    )

    @field_validator("entry")
    @classmethod
    def _check_entry(cls, v: str) -> str:
        if not _ENTRY.match(v):
            raise ValueError(
                f"expected 'module:function' (dotted module, a colon, a name), got {excerpt(v)}"
            )
        check_entry_module(v.split(":")[0])
        return v

    def default_name(self) -> str:
        return self.entry.split(":")[1]


def check_entry_module(module: str) -> None:
    """Refuse a :data:`DENIED_ENTRY_MODULES` module or submodule as a python target's entry."""
    top = module.split(".")[0]
    if top in DENIED_ENTRY_MODULES or top.startswith("_"):
        raise ValueError(
            f"entry module {module!r} is refused: a python target imports and calls the entry, "
            f"and {top} runs commands, code or I/O; point it at your own module"
        )


class ReferenceTarget(_TargetBase):
    """An advlab reference model trained (and cached) on an embedded dataset."""

    kind: Literal["reference"] = "reference"
    dataset: str = "digits"
    arch: Literal["cnn", "resnet", "mlp"] | None = None
    train: dict[str, Any] = Field(
        default_factory=dict,
        description="advlab.models.TrainConfig fields, e.g. {adversarial: pgd, adv_eps: 0.1}.",
    )

    @field_validator("train")
    @classmethod
    def _check_train(cls, v: dict[str, Any]) -> dict[str, Any]:
        from dataclasses import fields

        from advlab.models import TrainConfig

        valid = {f.name for f in fields(TrainConfig)}
        bad = sorted(set(v) - valid)
        if bad:
            raise ValueError(f"unknown training option(s) {bad}; valid: {', '.join(sorted(valid))}")
        return v

    def default_name(self) -> str:
        return f"{self.dataset}-{self.train.get('adversarial') or 'standard'}"


TargetSpec = Annotated[
    Union[
        ModelFileTarget,
        OnnxTarget,
        KerasTarget,
        HuggingFaceTarget,
        HttpTarget,
        EntryPointTarget,
        ReferenceTarget,
    ],
    Field(discriminator="kind"),
]


# ---------------------------------------------------------------------------- the rest

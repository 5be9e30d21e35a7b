"""Small shared helpers: devices, seeds, tensor conversion, progress bars."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import torch

log = logging.getLogger("advlab")

T = TypeVar("T")

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Silence progress bars globally (the CLI's ``--quiet``)."""
    global _QUIET
    _QUIET = quiet


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if isinstance(device, torch.device):
        return device
    name = (device or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        from advlab.errors import ConfigError

        raise ConfigError(
            "device 'cuda' requested but no CUDA device is available; use --device cpu"
        )
    if name not in {"cpu", "mps"} and not name.startswith("cuda"):
        from advlab.errors import ConfigError

        raise ConfigError(f"unknown device {device!r}; expected auto, cpu or cuda[:N]")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def make_generator(seed: int | None, device: torch.device) -> torch.Generator:
    """A torch generator on ``device`` (CPU generator for devices without their own)."""
    dev = device if device.type == "cuda" else torch.device("cpu")
    g = torch.Generator(device=dev)
    g.manual_seed(0 if seed is None else int(seed))
    return g


def as_tensor(x: Any, *, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Convert numpy arrays / lists / tensors to a tensor on ``device`` without copying needlessly."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(device=device, dtype=dtype)
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


def per_sample(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-sample vector ``(N,)`` shaped ``(N, 1, ..., 1)`` to broadcast against ``like``."""
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def as_labels(y: Any, *, device: torch.device) -> torch.Tensor:
    if isinstance(y, torch.Tensor):
        return y.detach().to(device=device, dtype=torch.long)
    return torch.as_tensor(np.asarray(y), dtype=torch.long, device=device)


def stable_hash(obj: Any, length: int = 16) -> str:
    """Content hash of a JSON-serialisable object (sorted keys)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def progress_enabled() -> bool:
    return not _QUIET and sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Any]:
    """A rich progress bar on stderr, disabled when quiet or stderr is not a terminal.

    Yields an ``advance(n=1)`` callable.
    """
    if not progress_enabled():
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as prog:
        task = prog.add_task(description, total=total)
        yield lambda n=1: prog.advance(task, n)


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar (see :func:`progress_bar`)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar(description, total) as advance:
        for item in items:
            yield item
            advance(1)

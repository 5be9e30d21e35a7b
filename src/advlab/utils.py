"""Small shared helpers: devices, seeds, tensor conversion, progress bars."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import sys
import time
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


PROGRESS_LOG_SECONDS = 30.0
"""Without a terminal, long work logs one progress line at most this often."""


class _ProgressLog:
    """Periodic one-line progress logs (with an ETA) for runs without a terminal."""

    def __init__(self, description: str, total: int | None, every: float) -> None:
        self.description, self.total, self.every = description, total, every
        self.done = 0
        self.start = self.last = time.monotonic()

    def __call__(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.start
        if self.total:
            eta = elapsed / max(self.done, 1) * max(self.total - self.done, 0)
            log.info(
                "%s: %d/%d (%.0f%%), %.0f s elapsed, about %.0f s left",
                self.description, self.done, self.total, 100 * self.done / self.total,
                elapsed, eta,
            )  # fmt: skip
        else:
            log.info("%s: %d done, %.0f s elapsed", self.description, self.done, elapsed)


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Any]:
    """A rich progress bar with an ETA on stderr when it is a terminal; otherwise (CI, logs
    redirected) one INFO log line at most every :data:`PROGRESS_LOG_SECONDS`. Nothing when
    quiet.

    Yields an ``advance(n=1)`` callable.
    """
    if _QUIET:
        yield lambda n=1: None
        return
    if not progress_enabled():
        yield _ProgressLog(description, total, PROGRESS_LOG_SECONDS)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
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

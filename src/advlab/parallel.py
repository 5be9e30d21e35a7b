"""Executors: run independent tasks serially, in a process pool, or on Ray.

Every executor maps a picklable top-level function over task arguments and returns results
in task order, so results never depend on the executor. Tasks derive their seeds from
:func:`task_seeds` (``numpy.random.SeedSequence``), never from the executor.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol, TypeVar

import numpy as np

from advlab.errors import ConfigError, UnknownNameError
from advlab.utils import progress_bar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def task_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent 32-bit seeds spawned from ``seed``."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


class Executor(Protocol):
    name: str

    def map(
        self, fn: Callable[[T], R], tasks: Sequence[T], *, description: str = ""
    ) -> list[R]: ...


class SerialExecutor:
    """Runs tasks one after another in this process (the default)."""

    name = "serial"

    def map(self, fn: Callable[[T], R], tasks: Sequence[T], *, description: str = "") -> list[R]:
        out: list[R] = []
        with progress_bar(description or "tasks", len(tasks)) as advance:
            for t in tasks:
                out.append(fn(t))
                advance(1)
        return out


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


class ProcessExecutor:
    """A pool of worker processes (``spawn`` start method; each worker uses ``threads`` threads).

    ``fn`` and the tasks must be picklable (top-level functions, plain data).
    """

    name = "processes"

    def __init__(self, workers: int | None = None, threads: int = 1) -> None:
        self.workers = workers or max(os.cpu_count() or 1, 1)
        self.threads = threads

    def map(self, fn: Callable[[T], R], tasks: Sequence[T], *, description: str = "") -> list[R]:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        out: list[R | None] = [None] * len(tasks)
        with (
            ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(self.threads,),
            ) as pool,
            progress_bar(description or "tasks", len(tasks)) as advance,
        ):
            futures = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
            from concurrent.futures import as_completed

            for fut in as_completed(futures):
                out[futures[fut]] = fut.result()
                advance(1)
        return out  # type: ignore[return-value]


EXECUTORS: dict[str, Callable[..., Any]] = {
    "serial": SerialExecutor,
    "processes": ProcessExecutor,
}


def get_executor(name: str = "serial", **kwargs: Any) -> Executor:
    """``serial`` | ``processes`` | ``ray`` (optional extra: ``pip install 'advlab[ray]'``)."""
    if name == "ray" and "ray" not in EXECUTORS:
        try:
            from advlab import parallel_ray  # noqa: F401  (registers "ray")
        except ImportError as exc:
            raise ConfigError("the ray executor needs Ray: pip install 'advlab[ray]'") from exc
    if name not in EXECUTORS:
        raise UnknownNameError(f"unknown executor {name!r}; valid: {', '.join(sorted(EXECUTORS))}")
    return EXECUTORS[name](**kwargs)  # type: ignore[no-any-return]


def chunks(items: Sequence[T], n: int) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]

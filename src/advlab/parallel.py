"""Executors: run independent tasks serially, in a process pool, or on Ray.

Every executor maps a picklable top-level function over task arguments and returns results
in task order, so results never depend on the executor. Tasks derive their seeds from
:func:`task_seeds` (``numpy.random.SeedSequence``), never from the executor.

The process pool starts its workers with ``forkserver`` where the platform has it (Linux):
torch, numpy and the task function's module are imported once in the fork server, and every
worker is a fork of it, so a worker starts in milliseconds instead of paying several seconds
of imports as a ``spawn`` worker does. Elsewhere (macOS, Windows) it falls back to ``spawn``.

Workers die with the process that owns the pool: on Linux each worker asks the kernel for
``SIGKILL`` when its parent exits (``prctl(PR_SET_PDEATHSIG)``; the fork server itself exits
when its owner's pipe closes), and everywhere a watchdog thread in each worker exits it within
:data:`WATCHDOG_INTERVAL_S` once the owner is gone. So ``kill -9`` of the owner leaves no fork
server, worker or resource tracker behind. Workers ignore ``SIGINT``: on Ctrl-C the owner
cancels the pending tasks, stops the running ones and re-raises ``KeyboardInterrupt``; what
finished tasks already wrote is kept.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol, TypeVar

import numpy as np

from advlab.errors import ConfigError, UnknownNameError
from advlab.utils import progress_bar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Modules imported once in the fork server (heavy imports every task needs).
DEFAULT_PRELOAD: tuple[str, ...] = ("numpy", "torch", "advlab")

START_METHODS = ("forkserver", "spawn")


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


#: Seconds between two checks of a worker's watchdog that its owner is still alive.
WATCHDOG_INTERVAL_S = 0.5
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Have Linux send ``sig`` to this process when its parent exits; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (an exited, unreaped process).

    POSIX only: on Windows ``os.kill`` would terminate the process, so this answers True.
    """
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc here: existence is all we can tell
    return state not in (b"Z", b"X")


def _owner_gone(owner: int, parent: int) -> bool:
    """The worker's parent changed, or the owner (by pid, or by multiprocessing's sentinel
    where the owner is the recorded parent process, as on Windows) has exited."""
    import multiprocessing as mp

    if os.getppid() != parent or not pid_alive(owner):
        return True
    pp = mp.parent_process()
    return pp is not None and pp.pid == owner and not pp.is_alive()


def _watch_owner(owner: int, parent: int, interval: float) -> None:
    """Exit this worker as soon as the pool's owner (or the worker's parent) is gone."""
    while not _owner_gone(owner, parent):
        time.sleep(interval)
    os._exit(1)  # no cleanup: the owner is gone, nobody reads our results


def _init_worker(threads: int, owner: int) -> None:
    """Worker set-up: tie the worker's life to its owner, leave Ctrl-C to the owner."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    set_parent_death_signal()
    if _owner_gone(owner, parent):  # died before prctl took effect
        os._exit(1)
    threading.Thread(
        target=_watch_owner,
        args=(owner, parent, WATCHDOG_INTERVAL_S),
        name="advlab-owner-watchdog",
        daemon=True,
    ).start()
    import torch

    torch.set_num_threads(threads)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel pending tasks and end the running ones now (no draining of the queue)."""
    workers = list((getattr(pool, "_processes", None) or {}).values())  # no public API < 3.14
    for w in workers:
        if w.is_alive():
            w.terminate()
    for w in workers:
        w.join(timeout=5.0)
        if w.is_alive():
            w.kill()
    # the pool sees its workers gone, fails what is left and releases its queues
    pool.shutdown(wait=True, cancel_futures=True)


def _start_method(requested: str | None) -> str:
    """``forkserver`` where available (the default), else ``spawn``; ``fork`` is refused."""
    import multiprocessing as mp

    available = mp.get_all_start_methods()
    if requested is None:
        return "forkserver" if "forkserver" in available else "spawn"
    if requested not in START_METHODS:
        raise ConfigError(
            f"start_method must be one of {', '.join(START_METHODS)} (or None for the "
            f"platform's best), got {requested!r}; 'fork' is unsafe once torch has threads"
        )
    if requested not in available:
        log.warning("start method %r is not available here; using 'spawn'", requested)
        return "spawn"
    return requested


class ProcessExecutor:
    """A pool of worker processes (each worker uses ``threads`` torch threads).

    ``start_method``: ``"forkserver"`` (the default where available: ``preload`` and the task
    function's module are imported once in the fork server, then each worker is forked from
    it) or ``"spawn"`` (each worker starts a fresh interpreter and imports everything itself).
    Both give the same results; forkserver saves seconds of start-up per worker.
    ``fn`` and the tasks must be picklable (top-level functions, plain data).
    """

    name = "processes"

    def __init__(
        self,
        workers: int | None = None,
        threads: int = 1,
        *,
        start_method: str | None = None,
        preload: Sequence[str] = DEFAULT_PRELOAD,
    ) -> None:
        self.workers = workers or max(os.cpu_count() or 1, 1)
        self.threads = threads
        self.start_method = start_method
        self.preload = preload

    def _context(self, fn: Callable[..., Any]) -> Any:
        import multiprocessing as mp

        method = _start_method(self.start_method)
        ctx = mp.get_context(method)
        if method == "forkserver":
            mods = list(self.preload)
            mod = getattr(fn, "__module__", None)
            if mod and mod not in ("__main__", "__mp_main__") and mod not in mods:
                mods.append(mod)
            # Takes effect when the fork server starts (once per process); later calls with
            # other modules still work, those modules are then imported by each worker.
            ctx.set_forkserver_preload(mods)
        return ctx

    def map(self, fn: Callable[[T], R], tasks: Sequence[T], *, description: str = "") -> list[R]:
        if not tasks:
            return []
        out: list[R | None] = [None] * len(tasks)
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(tasks)),
            mp_context=self._context(fn),
            initializer=_init_worker,
            initargs=(self.threads, os.getpid()),
        )
        try:
            with progress_bar(description or "tasks", len(tasks)) as advance:
                futures = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
                for fut in as_completed(futures):
                    out[futures[fut]] = fut.result()
                    advance(1)
        except KeyboardInterrupt:
            log.info("interrupted: cancelling pending tasks and stopping the workers")
            _stop(pool)
            raise
        finally:  # a failed task: pending ones are cancelled, running ones finish
            pool.shutdown(wait=True, cancel_futures=True)
        return out  # type: ignore[return-value]


EXECUTORS: dict[str, Callable[..., Any]] = {
    "serial": SerialExecutor,
    "processes": ProcessExecutor,
}


def get_executor(name: str = "serial", **kwargs: Any) -> Executor:
    """``serial`` | ``processes`` | ``ray`` (optional extra: ``pip install 'advlab[ray]'``)."""
    if name == "ray" and "ray" not in EXECUTORS:
        try:
            from advlab.parallel_ray import RayExecutor
        except ImportError as exc:
            raise ConfigError("the ray executor needs Ray: pip install 'advlab[ray]'") from exc
        EXECUTORS["ray"] = RayExecutor
    if name not in EXECUTORS:
        raise UnknownNameError(f"unknown executor {name!r}; valid: {', '.join(sorted(EXECUTORS))}")
    return EXECUTORS[name](**kwargs)  # type: ignore[no-any-return]


def chunks(items: Sequence[T], n: int) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]

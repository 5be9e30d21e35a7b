"""A Ray executor for :mod:`advlab.parallel` (optional extra: ``pip install 'advlab[ray]'``).

``advlab.parallel.get_executor("ray")`` imports it on demand. ``address=None`` starts a local Ray on
this machine; ``address="auto"`` joins a running cluster (falling back to a local Ray when
none is found), so the same code runs on a laptop and on a cluster. Tasks carry their own
seeds (:func:`advlab.parallel.task_seeds`) and results come back in task order, so scores
are identical to the serial executor's. On Ctrl-C the tasks not yet finished are cancelled
(``ray.cancel(force=True)``) instead of waited for; Ray itself ends a dead driver's workers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from advlab.errors import ConfigError
from advlab.utils import progress_bar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError("the ray executor needs Ray: pip install 'advlab[ray]'") from exc
    return ray


def _call(fn: Callable[[Any], Any], task: Any, threads: int) -> Any:
    import torch

    torch.set_num_threads(threads)
    return fn(task)


class RayExecutor:
    """Maps tasks over Ray workers (``num_cpus`` per task, ``threads`` torch threads each)."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        cpus_per_task: float = 1.0,
        threads: int = 1,
        shutdown: bool = False,
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.cpus_per_task = cpus_per_task
        self.threads = threads
        self.shutdown = shutdown

    def _init(self) -> Any:
        ray = _ray()
        if ray.is_initialized():
            return ray
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "ignore_reinit_error": True,
            "log_to_driver": False,
            "logging_level": logging.WARNING,
        }
        if self.address is not None and self.address != "local":
            try:
                ray.init(address=self.address, **kwargs)
                return ray
            except (ConnectionError, RuntimeError) as exc:
                if self.address != "auto":
                    raise ConfigError(f"cannot connect to Ray at {self.address!r}: {exc}") from exc
                log.info("no running Ray cluster found; starting a local one")
        if self.num_cpus is not None:
            kwargs["num_cpus"] = self.num_cpus
        ray.init(**kwargs)
        return ray

    def map(self, fn: Callable[[T], R], tasks: Sequence[T], *, description: str = "") -> list[R]:
        ray = self._init()
        remote = ray.remote(num_cpus=self.cpus_per_task)(_call)
        fn_ref = ray.put(fn)
        refs = [remote.remote(fn_ref, t, self.threads) for t in tasks]
        index = {r: i for i, r in enumerate(refs)}
        out: list[Any] = [None] * len(tasks)
        pending = list(refs)
        try:
            with progress_bar(description or "tasks", len(tasks)) as advance:
                while pending:
                    done, pending = ray.wait(pending, num_returns=1)
                    for r in done:
                        out[index[r]] = ray.get(r)
                        advance(1)
        except KeyboardInterrupt:  # Ctrl-C: cancel what has not finished, do not drain
            for r in pending:
                ray.cancel(r, force=True)
            raise
        finally:
            if self.shutdown:
                ray.shutdown()
        return out

"""Reference ("shadow") models for membership inference: trainers and their training runs.

:class:`ReferenceModels` trains the reference models: deterministic (per-model seeds from
:func:`advlab.parallel.task_seeds`), content-addressed and resumable (each model's logits are
stored as ``.npy`` under a key hashing the trainer, the data, the membership row, the
queries and the seed; models are kept only when asked), through any executor of
:mod:`advlab.parallel`, with a built-in (:class:`SklearnMLPTrainer`, :class:`TorchTrainer`)
or user-supplied (:class:`FunctionTrainer`) training function. The signals they produce are
assembled by :func:`advlab.attacks.inference.signals.collect_signals`.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from advlab.attacks.inference.outputs import Augment, as_log_scores, check_finite
from advlab.errors import ConfigError, InputError
from advlab.parallel import Executor, get_executor, task_seeds
from advlab.utils import stable_hash

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- trainers
class Trainer(Protocol):
    """How reference models are trained and queried (picklable for process/Ray executors)."""

    output: str

    def fit(self, x: np.ndarray, y: np.ndarray, *, seed: int, num_classes: int) -> Any: ...

    def predict(self, model: Any, x: np.ndarray) -> np.ndarray: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass
class SklearnMLPTrainer:
    """scikit-learn ``MLPClassifier`` reference models; logits computed exactly from weights."""

    hidden: tuple[int, ...] = (256, 256)
    max_iter: int = 300
    lr: float = 1e-3
    alpha: float = 1e-4
    batch_size: int = 200
    early_stopping: bool = False
    output: str = "logits"

    def fit(self, x: np.ndarray, y: np.ndarray, *, seed: int, num_classes: int) -> Any:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        m = MLPClassifier(
            hidden_layer_sizes=tuple(self.hidden),
            max_iter=self.max_iter,
            learning_rate_init=self.lr,
            alpha=self.alpha,
            batch_size=min(self.batch_size, len(x)),
            early_stopping=self.early_stopping,
            random_state=seed % (2**31),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            m.fit(x.reshape(len(x), -1), y)
        m.num_classes_ = num_classes
        return m

    def predict(self, model: Any, x: np.ndarray) -> np.ndarray:
        return mlp_logits(model, x, getattr(model, "num_classes_", None))

    def describe(self) -> dict[str, Any]:
        return {
            "trainer": "sklearn-mlp",
            "hidden": list(self.hidden),
            "max_iter": self.max_iter,
            "lr": self.lr,
            "alpha": self.alpha,
            "batch_size": self.batch_size,
            "early_stopping": self.early_stopping,
        }


def mlp_logits(model: Any, x: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Exact pre-softmax outputs of a fitted ``MLPClassifier`` (float64), all classes."""
    acts: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "relu": lambda h: np.maximum(h, 0.0),
        "tanh": np.tanh,
        "logistic": lambda h: 1.0 / (1.0 + np.exp(-h)),
        "identity": lambda h: h,
    }
    h = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    n_layers = len(model.coefs_)
    for i, (w, b) in enumerate(zip(model.coefs_, model.intercepts_, strict=True)):
        h = h @ w + b
        if i < n_layers - 1:
            h = acts[model.activation](h)
    if model.out_activation_ == "logistic":
        h = np.concatenate([np.zeros_like(h), h], axis=1)
    classes = np.asarray(model.classes_, dtype=int)
    k = int(num_classes or classes.max() + 1)
    if len(classes) == k and (classes == np.arange(k)).all():
        return h
    full = np.full((len(h), k), -1e4)
    full[:, classes] = h
    return full


@dataclass
class TorchTrainer:
    """PyTorch reference models from an :func:`advlab.models.build` spec and a ``TrainConfig``.

    ``config.seed`` is replaced by each model's own seed. ``train_dp`` options (target
    ``epsilon``) train with DP-SGD through :mod:`advlab.models.dp`.
    """

    spec: dict[str, Any] = field(default_factory=dict)
    config: Any = None
    epsilon: float | None = None
    delta: float = 1e-5
    max_grad_norm: float = 1.0
    output: str = "logits"

    def fit(self, x: np.ndarray, y: np.ndarray, *, seed: int, num_classes: int) -> Any:
        from dataclasses import replace

        from advlab.models import TrainConfig, build, train_model

        torch.manual_seed(seed)
        model = build(self.spec)
        cfg = replace(self.config or TrainConfig(), seed=seed)
        if self.epsilon is not None:
            from advlab.models.dp import train_dp

            model, _ = train_dp(
                model,
                x,
                y,
                cfg,
                target_epsilon=self.epsilon,
                delta=self.delta,
                max_grad_norm=self.max_grad_norm,
                device="cpu",
            )
            return model
        return train_model(model, x, y, cfg, device="cpu", description="reference model")

    def predict(self, model: Any, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = model(torch.as_tensor(np.asarray(x, dtype=np.float32)))
        return out.double().numpy()  # type: ignore[no-any-return]

    def describe(self) -> dict[str, Any]:
        cfg = self.config.to_dict() if self.config is not None else {}
        cfg.pop("seed", None)
        return {
            "trainer": "torch",
            "spec": self.spec,
            "config": cfg,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "max_grad_norm": self.max_grad_norm,
            "torch": torch.__version__.split("+")[0],
        }


@dataclass
class FunctionTrainer:
    """The user's own training function: ``fn(x, y, seed) -> predict`` where
    ``predict(x) -> (N, C)`` logits or probabilities (``output``).

    For the process and Ray executors ``fn`` must be a top-level (picklable) function.
    ``version`` enters the cache key: change it when ``fn``'s code changes.
    """

    fn: Callable[..., Callable[[np.ndarray], np.ndarray]] | None = None
    output: str = "logits"
    version: str = "0"

    def fit(self, x: np.ndarray, y: np.ndarray, *, seed: int, num_classes: int) -> Any:
        if self.fn is None:
            raise ConfigError("FunctionTrainer needs fn(x, y, seed) -> predict")
        return self.fn(x, y, seed)

    def predict(self, model: Any, x: np.ndarray) -> np.ndarray:
        return np.asarray(model(x))

    def describe(self) -> dict[str, Any]:
        name = getattr(self.fn, "__module__", "?") + "." + getattr(self.fn, "__qualname__", "?")
        return {"trainer": "function", "fn": name, "output": self.output, "version": self.version}


# --------------------------------------------------------------------------- reference models
def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


@dataclass
class _Task:
    index: int
    seed: int
    trainer: Any
    x: np.ndarray
    y: np.ndarray
    queries: np.ndarray  # (A, N, ...)
    num_classes: int
    path: str | None
    keep_model: bool
    threads: int | None = 1


def _train_one(task: _Task) -> tuple[np.ndarray, Any]:
    """Train one reference model and return its logits ``(N, A, C)`` (top level: picklable)."""
    if task.path is not None and os.path.exists(task.path) and not task.keep_model:
        return np.load(task.path, allow_pickle=False), None
    from contextlib import nullcontext

    from threadpoolctl import threadpool_limits

    limit = threadpool_limits(limits=task.threads) if task.threads else nullcontext()
    prev = torch.get_num_threads()
    if task.threads:
        torch.set_num_threads(task.threads)
    try:
        with limit:
            model = task.trainer.fit(task.x, task.y, seed=task.seed, num_classes=task.num_classes)
            outs = [
                as_log_scores(task.trainer.predict(model, task.queries[a]), task.trainer.output)
                for a in range(len(task.queries))
            ]
    finally:
        torch.set_num_threads(prev)
    logits = np.stack(outs, axis=1).astype(np.float32)
    if task.path is not None:
        tmp = f"{task.path}.{os.getpid()}.tmp.npy"
        np.save(tmp, logits)
        os.replace(tmp, task.path)
    return logits, (model if task.keep_model else None)


def balanced_membership(n_models: int, n_examples: int, seed: int) -> np.ndarray:
    """``(M, N)`` membership: each example is IN exactly ``M // 2`` models (Carlini 2022)."""
    if n_models < 1:
        raise ConfigError(f"n_models must be >= 1, got {n_models}")
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    keys = rng.random((n_models, n_examples))
    rank = np.argsort(np.argsort(keys, axis=0), axis=0)
    k = max(n_models // 2, 1) if n_models > 1 else 1
    return rank < k  # type: ignore[no-any-return]


@dataclass
class ReferenceOutput:
    """Logits ``(M, N, A, C)`` and membership ``(M, N)`` of trained reference models."""

    logits: np.ndarray
    ref_in: np.ndarray
    seeds: list[int]
    key: str
    models: list[Any] | None = None


@dataclass
class ReferenceModels:
    """Train ``n_models`` reference models on subsets of a data pool and query them.

        ``run(x, y)`` trains model ``m`` on ``x[ref_in[m]]`` (``ref_in`` defaults to a balanced
        random half per example) and returns its logits on every pool example and augmentation.
        Seeds come from ``task_seeds(seed, n_models)``, so serial, process and Ray executors give
        identical results. A trainer with ``fit_many`` (:class:`~advlab.attacks.inference.reference_vmap.VectorizedTorchTrainer`)
    trains every uncached model in one vectorised run instead of through the executor. With ``cache_dir`` each model's logits are stored under a content hash
        and reused: an interrupted run resumes where it stopped. ``threads`` caps the BLAS and
        torch threads of each model (1 by default: parallelism comes from the executor, and the
        same thread count everywhere keeps floating-point results identical across executors).
    """

    trainer: Any = field(default_factory=SklearnMLPTrainer)
    n_models: int = 16
    seed: int = 0
    augment: Augment | None = None
    cache_dir: str | Path | None = None
    executor: str | Executor = "serial"
    executor_options: dict[str, Any] = field(default_factory=dict)
    keep_models: bool = False
    threads: int | None = 1

    def _executor(self) -> Executor:
        if isinstance(self.executor, str):
            return get_executor(self.executor, **self.executor_options)
        return self.executor

    def _train_together(
        self,
        tasks: list[_Task],
        x: np.ndarray,
        y: np.ndarray,
        member: np.ndarray,
        queries: np.ndarray,
    ) -> list[tuple[np.ndarray, Any]]:
        """Train every uncached model in one call of the trainer's ``fit_many``."""
        out: list[tuple[np.ndarray, Any] | None] = [None] * len(tasks)
        todo = []
        for t in tasks:
            if t.path is not None and os.path.exists(t.path) and not t.keep_model:
                out[t.index] = (np.load(t.path, allow_pickle=False), None)
            else:
                todo.append(t)
        if todo:
            stacked = self.trainer.fit_many(
                x, y, member[[t.index for t in todo]], [t.seed for t in todo]
            )
            logits = self.trainer.predict_many(stacked, queries)
            for i, t in enumerate(todo):
                if t.path is not None:
                    tmp = f"{t.path}.{os.getpid()}.tmp.npy"
                    np.save(tmp, logits[i])
                    os.replace(tmp, t.path)
                out[t.index] = (logits[i], stacked.module(i) if t.keep_model else None)
        return [r for r in out if r is not None]

    def run(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        ref_in: np.ndarray | None = None,
        num_classes: int | None = None,
    ) -> ReferenceOutput:
        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y, dtype=np.int64)
        if len(x) != len(y):
            raise InputError(f"{len(x)} inputs but {len(y)} labels")
        k = int(num_classes or y.max() + 1)
        member = (
            balanced_membership(self.n_models, len(x), self.seed)
            if ref_in is None
            else np.asarray(ref_in, dtype=bool)
        )
        if member.shape != (self.n_models, len(x)):
            raise InputError(
                f"ref_in has shape {member.shape}; expected ({self.n_models}, {len(x)})"
            )
        queries = (self.augment or Augment()).apply(x)
        seeds = task_seeds(self.seed, self.n_models)
        base = {
            "trainer": self.trainer.describe(),
            "data": _digest(x, y),
            "queries": _digest(queries),
            "classes": k,
            "threads": self.threads,
            "v": 1,
        }
        key = stable_hash({**base, "membership": _digest(member), "seed": self.seed})
        cache = Path(self.cache_dir) if self.cache_dir is not None else None
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
        tasks = []
        for m in range(self.n_models):
            mk = stable_hash({**base, "row": _digest(member[m]), "seed": seeds[m]})
            path = str(cache / f"ref-{mk}.npy") if cache is not None else None
            tasks.append(
                _Task(
                    m,
                    seeds[m],
                    self.trainer,
                    x[member[m]],
                    y[member[m]],
                    queries,
                    k,
                    path,
                    self.keep_models,
                    self.threads,
                )
            )
        if cache is not None:
            done = sum(os.path.exists(t.path or "") for t in tasks)
            if done:
                log.info("reference models: %d of %d found in %s", done, len(tasks), cache)
        if hasattr(self.trainer, "fit_many"):
            results = self._train_together(tasks, x, y, member, queries)
        else:
            results = self._executor().map(_train_one, tasks, description="reference models")
        logits = np.stack([r[0] for r in results])
        check_finite(np.moveaxis(logits, 1, 0), "reference-model outputs")
        models = [r[1] for r in results] if self.keep_models else None
        return ReferenceOutput(logits=logits, ref_in=member, seeds=seeds, key=key, models=models)

"""Signal extraction for membership inference, kept apart from scoring.

The expensive part of a membership attack is querying models: the target, and many
reference ("shadow") models trained on random halves of a data pool (Shokri et al. 2017;
Carlini et al. 2022, "Membership Inference Attacks From First Principles"). This module
produces the matrices every scoring rule reads, once:

- ``target_logits``: ``(N, A, C)``, the target's logits on ``N`` examples under ``A``
  augmentations (augmentation 0 is the identity);
- ``ref_logits``: ``(M, N, A, C)``, the same for ``M`` reference models, and
  ``ref_in``: ``(M, N)``, whether example ``n`` was in model ``m``'s training set;
- ``labels`` ``(N,)``, and optionally the target's ground-truth ``members`` (evaluation only)
  and a ``population`` mask (known non-members usable as RMIA's ``z`` samples).

Scoring (``threshold``, ``lira``, ``rmia``, ``shokri``, ``label_only``) is numpy only.

:class:`ReferenceModels` trains the reference models: deterministic (per-model seeds from
:func:`advlab.parallel.task_seeds`), content-addressed and resumable (each model's logits are
stored as ``.npy`` under a key hashing the trainer, the data, the membership row, the
queries and the seed; models are kept only when asked), through any executor of
:mod:`advlab.parallel`, with a built-in or user-supplied training function.
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

from advlab.access import Access
from advlab.errors import AccessError, ConfigError, InputError
from advlab.parallel import Executor, get_executor, task_seeds
from advlab.targets.base import Target
from advlab.utils import stable_hash

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- transforms
def check_finite(values: np.ndarray, what: str) -> None:
    """Raise :class:`InputError` naming the examples whose outputs are NaN/inf.

    ``values`` has examples on its first axis after any leading model axis is flattened
    by the caller; the message lists the example indices.
    """
    v = np.asarray(values)
    if v.ndim == 0 or np.isfinite(v).all():
        return
    flat = v.reshape(v.shape[0], -1) if v.ndim > 1 else v.reshape(-1, 1)
    bad = np.flatnonzero(~np.isfinite(flat).all(axis=1))
    raise InputError(
        f"{what} contain NaN or inf for {len(bad)} example(s): indices {bad[:20].tolist()}"
        f"{' ...' if len(bad) > 20 else ''}; expected finite model outputs"
    )


def as_log_scores(out: np.ndarray, output: str) -> np.ndarray:
    """Logits from model outputs: identity for logits, ``log(max(p, 1e-12))`` for probabilities.

    Log-probabilities are valid logits (softmax inverts them), so every later transform is
    the same for both kinds of output.
    """
    o = np.asarray(out, dtype=np.float64)
    if output == "probs":
        if (o < -1e-6).any() or (o > 1 + 1e-6).any():
            raise InputError(
                "outputs declared as probabilities fall outside [0, 1]; declare logits"
            )
        return np.log(np.clip(o, 1e-12, None))
    if output != "logits":
        raise ConfigError(f"output must be 'logits' or 'probs', got {output!r}")
    return o


def looks_like_probs(out: np.ndarray) -> bool:
    """True when every row is non-negative and sums to 1 (a hint that 'logits' are probs)."""
    o = np.asarray(out, dtype=np.float64).reshape(-1, np.shape(out)[-1])
    return bool(len(o) and (o >= 0).all() and np.allclose(o.sum(1), 1.0, atol=1e-4))


def _gather(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Broadcast ``labels`` (N,) against ``logits`` (..., N, A, C): (true logit, other logits)."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if z.ndim < 3 or z.shape[-3] != len(y):
        raise InputError(
            f"logits of shape {z.shape} do not match {len(y)} labels; expected (..., N, A, C)"
        )
    idx = np.broadcast_to(y[:, None, None], z.shape[:-1] + (1,))
    true = np.take_along_axis(z, idx, axis=-1)[..., 0]
    others = z.copy()
    np.put_along_axis(others, idx, -np.inf, axis=-1)
    return true, others


def _logsumexp(z: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(z, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(z - m), axis=axis))


def logit_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """LiRA's logit-scaled confidence ``log(p_y / (1 - p_y))``, in float64, from logits.

    Computed as ``z_y - logsumexp_{j != y} z_j``, which stays exact where ``p_y`` rounds to 1.
    """
    true, others = _gather(logits, labels)
    return true - _logsumexp(others)


def true_class_prob(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Softmax probability of the true class, float64."""
    true, _ = _gather(logits, labels)
    return np.exp(true - _logsumexp(np.asarray(logits, dtype=np.float64)))


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-example cross-entropy loss ``-log p_y``, float64."""
    true, _ = _gather(logits, labels)
    return _logsumexp(np.asarray(logits, dtype=np.float64)) - true


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- augmentations
@dataclass(frozen=True)
class Augment:
    """Deterministic query augmentations; augmentation 0 is always the identity.

    ``kind``: ``"none"``; ``"flip_shift"`` (images ``(N, C, H, W)``: the mirror image and
    one-pixel shifts, Carlini 2022's queries); ``"noise"`` (``n - 1`` seeded Gaussian copies
    of standard deviation ``sigma``, clipped to ``bounds``: tabular data, and the noise
    robustness of Choquette-Choo 2021).
    """

    kind: str = "none"
    n: int = 1
    sigma: float = 0.05
    seed: int = 0
    bounds: tuple[float, float] = (0.0, 1.0)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``(A, N, ...)`` augmented copies of ``x``."""
        x = np.asarray(x, dtype=np.float32)
        if self.kind == "none" or self.n <= 1:
            return x[None]
        if self.kind == "noise":
            rng = np.random.default_rng(self.seed)
            noise = rng.normal(0.0, self.sigma, size=(self.n - 1, *x.shape)).astype(np.float32)
            lo, hi = self.bounds
            return np.concatenate([x[None], np.clip(x[None] + noise, lo, hi)], axis=0)
        if self.kind == "flip_shift":
            if x.ndim != 4:
                raise ConfigError(f"flip_shift needs images (N, C, H, W), got shape {x.shape}")
            out = [x, x[..., ::-1]]
            for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1)):
                s = np.zeros_like(x)
                ys = slice(max(dy, 0), x.shape[2] + min(dy, 0))
                yd = slice(max(-dy, 0), x.shape[2] + min(-dy, 0))
                xs = slice(max(dx, 0), x.shape[3] + min(dx, 0))
                xd = slice(max(-dx, 0), x.shape[3] + min(-dx, 0))
                s[:, :, yd, xd] = x[:, :, ys, xs]
                out.append(s)
                out.append(s[..., ::-1])
            return np.stack(out[: self.n]).copy()
        raise ConfigError(f"unknown augmentation {self.kind!r}; valid: none, noise, flip_shift")


# --------------------------------------------------------------------------- signals
@dataclass
class Signals:
    """What membership scoring reads (see the module docstring for shapes)."""

    labels: np.ndarray
    target_logits: np.ndarray
    ref_logits: np.ndarray | None = None
    ref_in: np.ndarray | None = None
    members: np.ndarray | None = None
    population: np.ndarray | None = None
    output: str = "logits"  # "logits" | "labels" (a label-only target: one-hot log scores)
    meta: dict[str, Any] = field(default_factory=dict)
    features: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.target_logits = np.asarray(self.target_logits)
        if self.target_logits.ndim == 2:
            self.target_logits = self.target_logits[:, None, :]
        n = len(self.labels)
        if self.target_logits.ndim != 3 or len(self.target_logits) != n:
            raise InputError(
                f"target_logits has shape {self.target_logits.shape}; expected ({n}, A, C)"
            )
        check_finite(self.target_logits, "target outputs")
        if self.ref_logits is not None:
            self.ref_logits = np.asarray(self.ref_logits)
            if self.ref_logits.ndim == 3:
                self.ref_logits = self.ref_logits[:, :, None, :]
            if self.ref_logits.shape[1:] != self.target_logits.shape:
                raise InputError(
                    f"ref_logits has shape {self.ref_logits.shape}; expected "
                    f"(M, {', '.join(map(str, self.target_logits.shape))})"
                )
            check_finite(np.moveaxis(self.ref_logits, 1, 0), "reference-model outputs")
            if self.ref_in is None:
                raise InputError("ref_logits given without the membership matrix ref_in (M, N)")
            self.ref_in = np.asarray(self.ref_in, dtype=bool)
            if self.ref_in.shape != self.ref_logits.shape[:2]:
                raise InputError(
                    f"ref_in has shape {self.ref_in.shape}; expected {self.ref_logits.shape[:2]}"
                )
        for name in ("members", "population"):
            v = getattr(self, name)
            if v is not None:
                v = np.asarray(v, dtype=bool).reshape(-1)
                if len(v) != n:
                    raise InputError(f"{name} has {len(v)} entries; expected {n}")
                setattr(self, name, v)
        for name, v in self.features.items():
            v = np.asarray(v)
            if len(v) != n:
                raise InputError(f"feature {name!r} has {len(v)} entries; expected {n}")
            check_finite(v, f"feature {name!r}")

    @property
    def n_examples(self) -> int:
        return len(self.labels)

    @property
    def n_models(self) -> int:
        return 0 if self.ref_logits is None else int(self.ref_logits.shape[0])

    @property
    def n_augmentations(self) -> int:
        return int(self.target_logits.shape[1])

    @property
    def num_classes(self) -> int:
        return int(self.target_logits.shape[2])

    def require_scores(self, who: str) -> None:
        if self.output == "labels":
            raise AccessError(f"{who} needs scores but the signals come from a label-only target")

    def require_reference(self, who: str, *, need_in: bool = False) -> None:
        if self.ref_logits is None or self.ref_in is None or self.n_models == 0:
            raise ConfigError(f"{who} needs reference models: build signals with ReferenceModels")
        if need_in and not self.ref_in.any(axis=0).all():
            missing = np.flatnonzero(~self.ref_in.any(axis=0))
            raise ConfigError(
                f"{who} (online) needs IN reference models for every example; examples "
                f"{missing[:10].tolist()} are in none (use offline=True or more models)"
            )

    def subset(self, idx: Any) -> Signals:
        """The signals of some examples (indices or a boolean mask)."""
        i = np.asarray(idx)
        return Signals(
            labels=self.labels[i],
            target_logits=self.target_logits[i],
            ref_logits=None if self.ref_logits is None else self.ref_logits[:, i],
            ref_in=None if self.ref_in is None else self.ref_in[:, i],
            members=None if self.members is None else self.members[i],
            population=None if self.population is None else self.population[i],
            output=self.output,
            meta=dict(self.meta),
            features={k: np.asarray(v)[i] for k, v in self.features.items()},
        )

    def with_target(self, m: int) -> Signals:
        """Leave-one-out: reference model ``m`` becomes the target, the others the references.

        Carlini et al. 2022 evaluate this way to pool many targets' scores.
        """
        self.require_reference("with_target")
        assert self.ref_logits is not None and self.ref_in is not None
        keep = np.arange(self.n_models) != m
        return Signals(
            labels=self.labels,
            target_logits=self.ref_logits[m],
            ref_logits=self.ref_logits[keep],
            ref_in=self.ref_in[keep],
            members=self.ref_in[m],
            population=self.population,
            output=self.output,
            meta={**self.meta, "target": {"type": f"reference model {m}"}},
        )

    def save(self, path: str | Path) -> Path:
        """Save as ``.npz`` (plain arrays; loading never unpickles)."""
        arrays: dict[str, np.ndarray] = {"labels": self.labels, "target_logits": self.target_logits}
        for name in ("ref_logits", "ref_in", "members", "population"):
            v = getattr(self, name)
            if v is not None:
                arrays[name] = v
        for name, v in self.features.items():
            arrays[f"feature__{name}"] = np.asarray(v)
        arrays["output"] = np.array(self.output)
        p = Path(path)
        np.savez_compressed(p, **arrays)  # type: ignore[arg-type]
        return p if p.suffix == ".npz" else p.with_suffix(p.suffix + ".npz")

    @classmethod
    def load(cls, path: str | Path) -> Signals:
        with np.load(path, allow_pickle=False) as f:
            d = {k: f[k] for k in f.files}
        output = str(d.pop("output")) if "output" in d else "logits"
        feats = {k[len("feature__") :]: d.pop(k) for k in list(d) if k.startswith("feature__")}
        return cls(output=output, features=feats, **d)


def query_target(
    target: Target, x: Any, *, augment: Augment | None = None, batch_size: int = 4096
) -> tuple[np.ndarray, str]:
    """The target's logits ``(N, A, C)`` on augmented copies of ``x`` (counted queries).

    Probabilities are turned into log-probabilities (valid logits). A label-only target gives
    one-hot log scores and the output kind ``"labels"``. NaN outputs raise an error naming the
    examples.
    """
    xs = (augment or Augment()).apply(np.asarray(x, dtype=np.float32))
    outs = []
    for a in range(len(xs)):
        t = target.check_inputs(xs[a])
        chunks = []
        for s in range(0, len(t), batch_size):
            tb = t[s : s + batch_size]
            if target.access >= Access.SCORES:
                raw = target.scores(tb)
                chunks.append(as_log_scores(_np(raw), target.output))
            else:
                lab = _np(target.labels(tb)).astype(int)
                onehot = np.full((len(lab), target.num_classes), np.log(1e-12))
                onehot[np.arange(len(lab)), lab] = 0.0
                chunks.append(onehot)
        z = np.concatenate(chunks) if chunks else np.zeros((0, target.num_classes))
        outs.append(z)
    logits = np.stack(outs, axis=1)
    check_finite(logits, "target outputs")
    if target.access >= Access.SCORES and target.output == "logits" and looks_like_probs(logits):
        log.warning(
            "the target declares logits but every output row sums to 1: if it returns "
            "probabilities, declare output='probs' so the right transform is used"
        )
    kind = "logits" if target.access >= Access.SCORES else "labels"
    return logits.astype(np.float64), kind


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


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
    identical results. With ``cache_dir`` each model's logits are stored under a content hash
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
        results = self._executor().map(_train_one, tasks, description="reference models")
        logits = np.stack([r[0] for r in results])
        check_finite(np.moveaxis(logits, 1, 0), "reference-model outputs")
        models = [r[1] for r in results] if self.keep_models else None
        return ReferenceOutput(logits=logits, ref_in=member, seeds=seeds, key=key, models=models)


def collect_signals(
    target: Target,
    x: np.ndarray,
    y: np.ndarray,
    *,
    reference: ReferenceOutput | None = None,
    members: np.ndarray | None = None,
    population: np.ndarray | None = None,
    augment: Augment | None = None,
) -> Signals:
    """Query ``target`` on ``x`` (with the references' augmentations) into :class:`Signals`."""
    logits, kind = query_target(target, x, augment=augment)
    ref_logits = None if reference is None else reference.logits
    if ref_logits is not None and ref_logits.shape[2] != logits.shape[1]:
        raise ConfigError(
            f"the reference models were queried with {ref_logits.shape[2]} augmentations, the "
            f"target with {logits.shape[1]}: pass the same augment"
        )
    return Signals(
        labels=np.asarray(y),
        target_logits=logits,
        ref_logits=ref_logits,
        ref_in=None if reference is None else reference.ref_in,
        members=members,
        population=population,
        output=kind,
        meta={
            "target": target.describe(),
            "reference_key": None if reference is None else reference.key,
        },
    )


def apply_output_defense(logits: np.ndarray, defense: Any) -> np.ndarray:
    """Pass logits ``(..., C)`` through an output defense's ``postprocess`` (e.g. rounding).

    Reference models must answer through the same API as the target: mask their logits with
    the target's output defense (log-probabilities come back).
    """
    z = np.asarray(logits, dtype=np.float64)
    flat = torch.as_tensor(softmax(z).reshape(-1, z.shape[-1]))
    gen = torch.Generator().manual_seed(int(getattr(defense, "seed", 0) or 0))
    p = defense.postprocess(flat, generator=gen).numpy().reshape(z.shape)
    return np.log(np.clip(p, 1e-12, None))

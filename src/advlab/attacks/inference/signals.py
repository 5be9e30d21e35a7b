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

:class:`ReferenceModels` (in :mod:`.reference`) trains the reference models; numpy views of
outputs and the query augmentations live in :mod:`.outputs`. Both are re-exported here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from advlab.access import Access
from advlab.attacks.inference.outputs import (
    Augment,
    _gather,
    _logsumexp,
    as_log_scores,
    check_finite,
    cross_entropy,
    logit_confidence,
    looks_like_probs,
    softmax,
    true_class_prob,
)
from advlab.attacks.inference.reference import (
    FunctionTrainer,
    ReferenceModels,
    ReferenceOutput,
    SklearnMLPTrainer,
    TorchTrainer,
    Trainer,
    balanced_membership,
    mlp_logits,
)
from advlab.errors import AccessError, ConfigError, InputError
from advlab.targets.base import Target

log = logging.getLogger(__name__)

__all__ = [
    "Augment",
    "FunctionTrainer",
    "ReferenceModels",
    "ReferenceOutput",
    "Signals",
    "SklearnMLPTrainer",
    "TorchTrainer",
    "Trainer",
    "_gather",
    "_logsumexp",
    "apply_output_defense",
    "as_log_scores",
    "balanced_membership",
    "check_finite",
    "collect_signals",
    "cross_entropy",
    "logit_confidence",
    "looks_like_probs",
    "mlp_logits",
    "query_target",
    "softmax",
    "true_class_prob",
]


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

"""Build what a task needs from the config: data points, targets, defended variants, attacks.

Every builder is deterministic (seeded) so that a task computes the same numbers in any
process. Targets are cached per process (model loading is the slow part); each task gets a
fresh query meter.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from advlab.access import Access
from advlab.assess.config import (
    AssessmentConfig,
    DataSpec,
    DefenseSpec,
    EntryPointTarget,
    HttpTarget,
    HuggingFaceTarget,
    KerasTarget,
    ModelFileTarget,
    OnnxTarget,
    ReferenceTarget,
    check_entry_module,
)
from advlab.constraints.schema import ConstraintSet
from advlab.constraints.target import ConstrainedTarget
from advlab.errors import AdvlabError, ConfigError, UnknownNameError
from advlab.meter import QueryMeter
from advlab.targets.base import LabelsOnly, ScoresOnly, Target, TargetWrapper

log = logging.getLogger(__name__)

"""Attacks that live outside the registry but may be named in configs."""


@dataclass
class Points:
    x: np.ndarray
    y: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    modality: str
    bounds: tuple[float, float]
    num_classes: int


def resolve_path(p: str, config_dir: str | Path) -> Path:
    path = Path(p).expanduser()
    return path if path.is_absolute() else Path(config_dir) / path


def file_fingerprint(path: Path) -> str:
    """sha256 of a file (first 16 hex digits); '' when it does not exist."""
    if not path.is_file():
        return ""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


@lru_cache(maxsize=8)
def _load_points(data_json: str, config_dir: str) -> Points:
    import json

    from advlab.data import load_dataset

    spec = DataSpec.model_validate(json.loads(data_json))
    name = spec.dataset
    p = resolve_path(name, config_dir)
    if p.exists() and (p.suffix in (".npz", ".csv") or p.is_dir()):
        name = str(p)
    ds = load_dataset(name, seed=spec.seed)
    x_all, y_all = (ds.x_test, ds.y_test) if spec.split == "test" else (ds.x_train, ds.y_train)
    n = min(spec.n, len(x_all))
    rng = np.random.default_rng(spec.seed)
    idx = np.sort(rng.permutation(len(x_all))[:n])
    return Points(
        x=x_all[idx],
        y=y_all[idx],
        x_train=ds.x_train,
        y_train=ds.y_train,
        x_test=ds.x_test,
        y_test=ds.y_test,
        modality=ds.modality,
        bounds=tuple(ds.bounds),  # type: ignore[arg-type]
        num_classes=ds.num_classes,
    )


def load_points(cfg: AssessmentConfig, config_dir: str | Path) -> Points:
    return _load_points(cfg.data.model_dump_json(), str(config_dir))


# ---------------------------------------------------------------------------- targets
_TARGETS: dict[str, Target] = {}


def _build_base(spec: Any, config_dir: str | Path) -> Target:
    device = spec.device
    if isinstance(spec, ReferenceTarget):
        from advlab.models import reference_model, reference_train

        bundle = reference_model(spec.dataset, arch=spec.arch, train=reference_train(**spec.train))
        return bundle.target(device=device)  # type: ignore[no-any-return]
    if isinstance(spec, ModelFileTarget):
        from advlab.models import load_bundle

        bundle = load_bundle(resolve_path(spec.path, config_dir))
        return bundle.target(device=device)  # type: ignore[no-any-return]
    if isinstance(spec, OnnxTarget):
        try:
            from advlab.targets.onnx import OnnxClassifier
        except ImportError as exc:  # pragma: no cover - optional dependency
            raise ConfigError(
                f"ONNX targets need onnxruntime: pip install 'advlab[onnx]' ({exc})"
            ) from exc
        return OnnxClassifier(  # type: ignore[call-arg]
            str(resolve_path(spec.path, config_dir)),
            bounds=spec.bounds,
            output=spec.output,
            device=device,
        )
    if isinstance(spec, (KerasTarget, HuggingFaceTarget)):
        from advlab.targets.files import open_model_file

        return open_model_file(  # type: ignore[no-any-return]
            resolve_path(spec.path, config_dir), kind=spec.kind, bounds=spec.bounds, device=device
        )
    if isinstance(spec, HttpTarget):
        try:
            from advlab.targets.http import HttpClassifier
        except ImportError as exc:  # pragma: no cover - optional dependency
            raise ConfigError(
                f"HTTP targets need httpx: pip install 'advlab[http]' ({exc})"
            ) from exc
        return HttpClassifier(
            spec.url,
            input_shape=tuple(spec.input_shape),
            num_classes=spec.num_classes,
            bounds=spec.bounds,
            returns=spec.returns,
            timeout=spec.timeout,
            retries=spec.retries,
            api_key_env=spec.api_key_env,
            backoff=0.2,
            max_backoff=2.0,
            device="cpu" if device == "auto" else device,
        )
    if isinstance(spec, EntryPointTarget):
        folder = str(resolve_path(spec.pythonpath or ".", config_dir))
        if folder not in sys.path:
            sys.path.insert(0, folder)
        mod_name, fn_name = spec.entry.split(":")
        try:
            check_entry_module(mod_name)  # also when the spec was built without validation
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        try:
            mod = importlib.import_module(mod_name)
        except ImportError as exc:
            raise ConfigError(
                f"entry point {spec.entry!r}: cannot import {mod_name!r} ({exc})"
            ) from exc
        fn = getattr(mod, fn_name, None)
        if not callable(fn):
            raise ConfigError(f"entry point {spec.entry!r}: {mod_name} has no callable {fn_name!r}")
        target = fn(**spec.kwargs)
        if not isinstance(target, Target):
            raise ConfigError(
                f"entry point {spec.entry!r} returned {type(target).__name__}; "
                "expected an advlab Target"
            )
        return target
    raise ConfigError(f"unknown target kind {type(spec).__name__}")  # pragma: no cover


def base_target(cfg: AssessmentConfig, name: str, config_dir: str | Path) -> Target:
    """The undefended target ``name`` with full access (cached per process)."""
    spec = next((t for t in cfg.targets if t.name == name), None)
    if spec is None:
        raise UnknownNameError(f"unknown target {name!r}; targets: {', '.join(cfg.target_names())}")
    key = f"{spec.model_dump_json()}|{config_dir}"
    if key not in _TARGETS:
        _TARGETS[key] = _build_base(spec, config_dir)
    return _TARGETS[key]


def clear_cache() -> None:
    _TARGETS.clear()
    _load_points.cache_clear()


class ImmutableFeatures(TargetWrapper):
    """Features the attacker cannot change: their gradient is zero (gradient attacks leave
    them alone) and :meth:`constrain` restores their clean values in every attack's
    projection (gradient-free attacks too), so success is decided on feasible points."""

    def __init__(self, inner: Target, immutable: list[int]) -> None:
        super().__init__(inner)
        self.immutable = list(immutable)

    def _gradient(self, x: torch.Tensor, objective: Any) -> tuple[torch.Tensor, torch.Tensor]:
        grad, out = self.inner._gradient(x, objective)
        flat = grad.reshape(len(grad), -1).clone()
        flat[:, self.immutable] = 0
        return flat.reshape(grad.shape), out

    def constrain(self, x: torch.Tensor, x_adv: torch.Tensor) -> torch.Tensor:
        flat = self.inner.constrain(x, x_adv).reshape(len(x_adv), -1).clone()
        flat[:, self.immutable] = x.reshape(len(x), -1)[:, self.immutable].to(flat.dtype)
        return flat.reshape(x_adv.shape)


def variant_target(
    cfg: AssessmentConfig,
    target: str,
    defense: DefenseSpec | None,
    config_dir: str | Path,
    *,
    max_queries: int | None = None,
    reduce_access: bool = True,
) -> Target:
    """A fresh-metered (optionally defended, access-reduced) view of target ``target``."""
    base = base_target(cfg, target, config_dir)
    base.meter = QueryMeter(query_budget=max_queries)
    t: Target = base
    if defense is not None:
        d = defense_class(defense.name)(**defense.params)
        t = d.apply(t)
        t.meter = base.meter
    pert = cfg.threat_model.perturbation
    if pert.bounds is not None:
        t = _Rebound(t, pert.bounds)
    if pert.immutable:
        t = ImmutableFeatures(t, pert.immutable)
    constraints = threat_constraints(cfg)
    if constraints is not None:
        t = ConstrainedTarget(t, constraints)
    if reduce_access:
        access = Access.parse(cfg.threat_model.access)
        if access == Access.SCORES and t.access > Access.SCORES:
            t = ScoresOnly(t)
        elif access == Access.LABELS and t.access > Access.LABELS:
            t = LabelsOnly(t)
    return t


def threat_constraints(cfg: AssessmentConfig) -> ConstraintSet | None:
    """The threat model's domain constraints: its ``constraints`` mapping, the dataset's own
    (``constraints: dataset``), or ``None``."""
    spec = cfg.threat_model.constraints
    if spec is None:
        return None
    if spec == "dataset":
        from advlab.data.loaders import load_dataset

        cs = load_dataset(cfg.data.dataset, seed=cfg.data.seed).meta.get("constraints")
        if not isinstance(cs, ConstraintSet):
            raise ConfigError(f"dataset {cfg.data.dataset!r} declares no domain constraints")
        return cs
    return ConstraintSet.from_config(spec)


class _Rebound(TargetWrapper):
    """The threat model's input bounds instead of the target's own."""

    def __init__(self, inner: Target, bounds: tuple[float, float]) -> None:
        super().__init__(inner)
        self.set_bounds(bounds)


# ---------------------------------------------------------------------------- attacks


def ensure_registry() -> None:
    """Discover every plugin (see :func:`advlab.registry.discover`)."""
    from advlab.registry import discover

    discover()


def attack_class(name: str) -> type[Any]:
    """A registered attack or an import path ``module:Class``."""
    from advlab.registry import get_attack

    ensure_registry()

    path = name
    if ":" in path:
        mod_name, cls_name = path.split(":", 1)
        try:
            cls = getattr(importlib.import_module(mod_name), cls_name)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"attack {name!r}: cannot import {path!r} ({exc})") from exc
        return cls  # type: ignore[no-any-return]
    return _tolerant(get_attack, name)


def _tolerant(lookup: Any, name: str) -> type[Any]:
    """Look ``name`` up, also with '-' and '_' swapped (``bit-depth`` finds ``bit_depth``)."""
    try:
        return lookup(name)  # type: ignore[no-any-return]
    except UnknownNameError:
        for alt in (name.replace("-", "_"), name.replace("_", "-")):
            if alt != name:
                try:
                    return lookup(alt)  # type: ignore[no-any-return]
                except UnknownNameError:
                    pass
        raise


def defense_class(name: str) -> type[Any]:
    from advlab.registry import get_defense

    ensure_registry()
    return _tolerant(get_defense, name)


def describe_error(exc: BaseException) -> str:
    """One line naming what failed (for records and reports)."""
    if isinstance(exc, AdvlabError):
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}".strip()

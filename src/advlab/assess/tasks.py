"""Tasks (target x attack x eps) and the task-kind dispatch table.

A :class:`Task` is plain data keyed by the content hash of everything that determines its
numbers (target spec and file fingerprint, defense, attack and parameters, eps, data, threat
model, seed), so a resumed run recognises finished work and a changed config recomputes it.

Each goal has a :class:`TaskKind` in :data:`TASK_KINDS`: it plans the tasks of the goal,
recommends a default suite, estimates an attack's minimum query cost and executes one task.
Evasion is implemented end to end. Extraction, inference and poisoning plug in by name: an
attack class may define ``assess_task(target, points, *, seed) -> Result``; otherwise its
verb (``extract`` / ``infer`` / ``poison``) is called with arguments bound by parameter name
from ``target, x, y, x_train, y_train, x_test, y_test, x_eval, y_eval, seed``. For
poisoning, ``x, y`` are the training split and victims are retrained afterwards (see
:class:`PoisoningKind`).
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from advlab.access import Access
from advlab.assess.build import (
    Points,
    attack_class,
    describe_error,
    load_points,
    resolve_path,
    variant_target,
)
from advlab.assess.config import AssessmentConfig, DefenseSpec
from advlab.assess.sanity import HUGE_PGD, LONG_PGD, SHORT_PGD
from advlab.errors import BudgetExhausted, ConfigError
from advlab.norms import lp_norm
from advlab.results import Result
from advlab.utils import stable_hash

log = logging.getLogger(__name__)

RUNNER_VERSION = 1
MAX_EXAMPLES = 6


@dataclass
class Task:
    key: str
    kind: str
    role: str  # "suite" | "sanity" | "probe"
    target: str
    variant: str
    defense: dict[str, Any] | None
    attack: str  # label
    attack_name: str
    params: dict[str, Any]
    eps: float | None
    norm: str
    seed: int
    requires: str = "labels"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    @property
    def title(self) -> str:
        e = "" if self.eps is None else f" @ {self.norm} {self.eps:g}"
        return f"{self.variant} / {self.attack}{e}"


def task_key(content: dict[str, Any]) -> str:
    return stable_hash({"runner": RUNNER_VERSION, **content}, length=20)


def task_seed(key: str) -> int:
    return int(key[:8], 16)


@dataclass
class Variant:
    label: str
    target: str
    defense: DefenseSpec | None


def variants(cfg: AssessmentConfig) -> list[Variant]:
    """Every target undefended, then each defended variant."""
    out = [Variant(str(t.name), str(t.name), None) for t in cfg.targets]
    for d in cfg.defenses:
        for t in cfg.targets:
            if d.targets is not None and t.name not in d.targets:
                continue
            label = d.label or f"{t.name}+{d.name}"
            if d.label and (d.targets is None or len(d.targets) != 1) and len(cfg.targets) > 1:
                label = f"{t.name}+{d.label}"
            out.append(Variant(label, str(t.name), d))
    return out


# ---------------------------------------------------------------------------- kinds
class TaskKind:
    goal: ClassVar[str] = ""
    verb: ClassVar[str] = ""
    suite: ClassVar[dict[str, list[tuple[str, dict[str, Any]]]]] = {}

    def default_suite(self, cfg: AssessmentConfig) -> list[tuple[str, dict[str, Any]]]:
        """Recommended (name, params) for the threat model, filtered to registered attacks
        that the access level allows."""
        from advlab.assess.build import ensure_registry
        from advlab.registry import ATTACKS

        ensure_registry()
        access = Access.parse(cfg.threat_model.access)
        out = []
        for name, params in self.suite.get(cfg.threat_model.access, []):
            cls = ATTACKS.get(name)
            if name == "objective":
                cls = attack_class(name)
            if cls is None or getattr(cls, "requires", Access.LABELS) > access:
                continue
            out.append((name, dict(params)))
        return out

    def plan(
        self, cfg: AssessmentConfig, fingerprints: dict[str, str]
    ) -> list[Task]:  # pragma: no cover - abstract
        raise NotImplementedError

    def min_queries_per_point(self, attack: Any) -> int | None:
        return None

    def execute(self, task: Task, cfg: AssessmentConfig, config_dir: str) -> dict[str, Any]:
        raise NotImplementedError  # pragma: no cover

    # shared --------------------------------------------------------------
    def _common_content(self, cfg: AssessmentConfig, v: Variant, fp: str) -> dict[str, Any]:
        spec = next(t for t in cfg.targets if t.name == v.target)
        tm = cfg.threat_model
        return {
            "target": spec.model_dump(mode="json"),
            "fingerprint": fp,
            "defense": None if v.defense is None else v.defense.model_dump(mode="json"),
            "data": cfg.data.model_dump(mode="json"),
            "seed": cfg.seed,
            "threat": {
                "access": tm.access,
                "budget": tm.query_budget.per_point,
                "targeted": tm.targeted,
                "bounds": tm.perturbation.bounds,
                "immutable": tm.perturbation.immutable,
            },
        }

    def attacks(self, cfg: AssessmentConfig) -> list[tuple[str, str, dict[str, Any]]]:
        if cfg.attacks is None:
            return [(n, n, p) for n, p in self.default_suite(cfg)]
        return [(a.display, a.name, dict(a.params)) for a in cfg.attacks]


def _requires(cls: type[Any]) -> str:
    return Access(getattr(cls, "requires", Access.LABELS)).name.lower()


def _bind_call(fn: Any, available: dict[str, Any]) -> Any:
    sig = inspect.signature(fn)
    kwargs = {}
    for name, p in sig.parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if name in available:
            kwargs[name] = available[name]
        elif p.default is inspect.Parameter.empty:
            raise ConfigError(
                f"cannot call {getattr(fn, '__qualname__', fn)}: no value for its argument "
                f"{name!r} (the assessment provides {', '.join(sorted(available))})"
            )
    return fn(**kwargs)


class EvasionKind(TaskKind):
    goal = "evasion"
    verb = "run"
    suite = {
        "gradients": [
            ("fgsm", {}),
            ("pgd", {"steps": 40}),
            ("apgd", {"loss": "ce", "steps": 50}),
            ("apgd-t", {"steps": 50, "n_target_classes": 3}),
            ("square", {}),
        ],
        "scores": [("square", {}), ("simba", {}), ("objective", {"optimiser": "random"})],
        "labels": [("hopskipjump", {})],
    }

    def plan(self, cfg: AssessmentConfig, fingerprints: dict[str, str]) -> list[Task]:
        pert = cfg.threat_model.perturbation
        tasks: list[Task] = []
        suite = self.attacks(cfg)
        for v in variants(cfg):
            common = self._common_content(cfg, v, fingerprints.get(v.target, ""))
            for label, name, params in suite:
                cls = attack_class(name)
                for eps in pert.eps:
                    tasks.append(
                        self._task(
                            common, v, "suite", label, name, params, eps, pert.norm, _requires(cls)
                        )
                    )
            if cfg.sanity.enabled and cfg.sanity.extra_attacks:
                tasks.extend(self._sanity_tasks(cfg, v, common))
            if cfg.sanity.enabled:
                tasks.append(
                    self._task(common, v, "probe", "probe", "probe", {}, None, pert.norm, "scores")
                )
        return tasks

    def _task(
        self,
        common: dict[str, Any],
        v: Variant,
        role: str,
        label: str,
        name: str,
        params: dict[str, Any],
        eps: float | None,
        norm: str,
        requires: str,
    ) -> Task:
        content = {
            **common,
            "kind": "evasion",
            "role": role,
            "attack": name,
            "label": label,
            "params": params,
            "eps": eps,
            "norm": norm,
        }
        key = task_key(content)
        return Task(
            key=key,
            kind="evasion",
            role=role,
            target=v.target,
            variant=v.label,
            defense=common["defense"],
            attack=label,
            attack_name=name,
            params=params,
            eps=eps,
            norm=norm,
            seed=task_seed(key),
            requires=requires,
        )

    def _sanity_tasks(
        self, cfg: AssessmentConfig, v: Variant, common: dict[str, Any]
    ) -> list[Task]:
        """White-box reference attacks the checks need (run with full access to the model)."""
        from advlab.assess.build import ensure_registry
        from advlab.registry import ATTACKS

        ensure_registry()
        pert = cfg.threat_model.perturbation
        eps_sorted = sorted(pert.eps)
        ref = eps_sorted[len(eps_sorted) // 2]
        lo, hi = pert.bounds or (0.0, 1.0)
        out: list[Task] = []
        if "fgsm" in ATTACKS:
            out.append(
                self._task(
                    common, v, "sanity", "fgsm (sanity)", "fgsm", {}, ref, pert.norm, "gradients"
                )
            )
        if "pgd" in ATTACKS:
            base = {"steps": 20}
            out.append(
                self._task(common, v, "sanity", SHORT_PGD, "pgd", base, ref, pert.norm, "gradients")
            )
            out.append(
                self._task(
                    common,
                    v,
                    "sanity",
                    LONG_PGD,
                    "pgd",
                    {"steps": 50, "restarts": 2},
                    ref,
                    pert.norm,
                    "gradients",
                )
            )
            huge = {"linf": 1.0, "l2": 100.0, "l1": 100.0}[pert.norm] * (hi - lo)
            out.append(
                self._task(
                    common,
                    v,
                    "sanity",
                    HUGE_PGD,
                    "pgd",
                    {"steps": 40},
                    huge,
                    pert.norm,
                    "gradients",
                )
            )
        return out

    def min_queries_per_point(self, attack: Any) -> int | None:
        """Smallest budget per point the attack can run with: the clean check, its own
        queries, the final check per restart."""
        fn = getattr(attack, "min_queries_per_point", None)
        if callable(fn):
            return int(fn())
        restarts = int(getattr(attack, "restarts", 1) or 1)
        steps = getattr(attack, "steps", None)
        if isinstance(steps, int):
            return 1 + restarts * (steps + 1)
        mq = getattr(attack, "max_queries", None)
        if isinstance(mq, int) and mq > 0:
            return 2 + min(mq, 10)
        return 3

    def execute(self, task: Task, cfg: AssessmentConfig, config_dir: str) -> dict[str, Any]:
        pts = load_points(cfg, config_dir)
        if task.role == "probe":
            return {"status": "ok", "probe": probe(cfg, task, config_dir, pts)}
        per_point = cfg.threat_model.query_budget.per_point
        sanity = task.role == "sanity"
        n = len(pts.x)
        max_q = None if (per_point is None or sanity) else per_point * n
        target = variant_target(
            cfg,
            task.target,
            _defense(task),
            config_dir,
            max_queries=max_q,
            reduce_access=not sanity,
        )
        cls = attack_class(task.attack_name)
        params = _resolve_params(cls, task.params, cfg, config_dir)
        accepted = set(cls._param_names()) if hasattr(cls, "_param_names") else set()
        if "norm" in accepted:
            params.setdefault("norm", task.norm)
        if "eps" in accepted:
            params["eps"] = task.eps
        if "seed" in accepted and "seed" not in task.params:
            params["seed"] = task.seed
        try:
            attack = cls(**params)
        except TypeError as exc:
            raise ConfigError(f"attack {task.attack!r}: bad parameters ({exc})") from exc
        need = self.min_queries_per_point(attack)
        if per_point is not None and not sanity and need is not None and need > per_point:
            return {
                "status": "skipped",
                "reason": f"{task.attack} needs at least {need} queries per point; the "
                f"threat model's budget is {per_point} per point",
            }
        y = torch.as_tensor(pts.y)
        targeted = cfg.threat_model.targeted and getattr(cls, "supports_targeted", True)
        if targeted:
            g = np.random.default_rng(task.seed)
            y = torch.as_tensor(
                (pts.y + g.integers(1, pts.num_classes, size=len(pts.y))) % pts.num_classes
            )
        res = attack.run(target, pts.x, y, targeted=targeted)
        out: dict[str, Any] = {"status": "ok"}
        out.update(_finish_evasion(res, target, pts, cfg, config_dir, task))
        curve = getattr(attack, "query_log_", None)
        if curve is not None:
            out["query_log"] = [int(q) if q is not None else None for q in curve]
        return out


def _defense(task: Task) -> DefenseSpec | None:
    return None if task.defense is None else DefenseSpec.model_validate(task.defense)


def _resolve_params(
    cls: type[Any], params: dict[str, Any], cfg: AssessmentConfig, config_dir: str
) -> dict[str, Any]:
    """Parameters naming a target (``surrogate: standard``) become that target (full access)."""
    out = dict(params)
    for k, v in params.items():
        if k in ("surrogate", "surrogates") and isinstance(v, str):
            if v not in cfg.target_names():
                raise ConfigError(
                    f"attack {cls.__name__}: {k} {v!r} is not a target of this config; "
                    f"targets: {', '.join(cfg.target_names())}"
                )
            out[k] = variant_target(cfg, v, None, config_dir, reduce_access=False)
    return out


def _finish_evasion(
    res: Any, target: Any, pts: Points, cfg: AssessmentConfig, config_dir: str, task: Task
) -> dict[str, Any]:
    """Independent re-check of the returned points, per-point vectors, gallery examples."""
    x = torch.as_tensor(pts.x)
    x_adv = torch.as_tensor(np.asarray(res.x_adv, dtype=np.float32)) if res.x_adv is not None else x
    immutable = cfg.threat_model.perturbation.immutable
    reset = 0
    verifier = variant_target(cfg, task.target, _defense(task), config_dir, reduce_access=False)
    if immutable:
        flat = x_adv.reshape(len(x_adv), -1).clone()
        orig = x.reshape(len(x), -1)
        changed = (flat[:, immutable] != orig[:, immutable]).any(1)
        reset = int(changed.sum())
        flat[:, immutable] = orig[:, immutable]
        x_adv = flat.reshape(x.shape)
        if reset:
            pred = verifier.labels(x_adv.to(verifier.device)).cpu()
            yt = torch.as_tensor(np.asarray(res.y))
            ok = pred == yt if res.targeted else pred != yt
            res.success = torch.as_tensor(np.asarray(res.success)) & ok
    norms = lp_norm(x_adv - x, task.norm)
    eps = task.eps
    lo, hi = verifier.lower.cpu(), verifier.upper.cpu()
    out_of_bounds = int(
        ((x_adv < lo - 1e-6) | (x_adv > hi + 1e-6)).reshape(len(x), -1).any(1).sum()
    )
    over_eps = 0 if eps is None else int((norms > eps * (1 + 1e-5) + 1e-6).sum())
    success = torch.as_tensor(np.asarray(res.success)).bool()
    pred = verifier.labels(x_adv.to(verifier.device)).cpu()
    y = torch.as_tensor(np.asarray(res.y))
    really = pred == y if res.targeted else pred != y
    claimed_not_real = int((success & ~really).sum())
    res.x_adv = None
    d = res.to_dict()
    d["summary"]["robust_accuracy"] = float(res.robust_accuracy)
    examples: dict[str, Any] = {}
    if pts.kind == "image" and bool(success.any()):
        idx = success.nonzero().flatten()[:MAX_EXAMPLES].tolist()
        examples = {
            "index": idx,
            "x": x[idx].numpy().round(4).tolist(),
            "x_adv": x_adv[idx].numpy().round(4).tolist(),
            "y": [int(pts.y[i]) for i in idx],
            "pred": [int(pred[i]) for i in idx],
        }
    return {
        "result": d,
        "verified": {
            "max_norm": float(norms.max()) if len(norms) else 0.0,
            "eps": eps,
            "over_eps": over_eps,
            "out_of_bounds": out_of_bounds,
            "claimed_not_adversarial": claimed_not_real,
            "immutable_reset": reset,
        },
        "examples": examples,
    }


def probe(cfg: AssessmentConfig, task: Task, config_dir: str, pts: Points) -> dict[str, Any]:
    """Cheap measurements the sanity checks need: gradients, randomness, output scale."""
    t = variant_target(cfg, task.target, _defense(task), config_dir, reduce_access=False)
    x = torch.as_tensor(pts.x[:64]).to(t.device)
    y = torch.as_tensor(pts.y[:64]).to(t.device)
    out: dict[str, Any] = {
        "access": t.access.name.lower(),
        "declared_output": t.output,
        "n": len(x),
    }
    if t.access >= Access.SCORES:
        s1, s2 = t.scores(x), t.scores(x)
        out["max_repeat_diff"] = float((s1 - s2).abs().max())
        out["label_flips_on_repeat"] = int((s1.argmax(1) != s2.argmax(1)).sum())
        s = s1.double()
        sums = s.sum(1)
        out["looks_like_probs"] = bool((s >= -1e-6).all() and ((sums - 1).abs() < 1e-3).all())
        out["clean_accuracy"] = float((s1.argmax(1) == y).float().mean())
    else:
        l1, l2 = t.labels(x), t.labels(x)
        out["label_flips_on_repeat"] = int((l1 != l2).sum())
        out["clean_accuracy"] = float((l1 == y).float().mean())
    if t.access >= Access.GRADIENTS:
        grad, _ = t.loss_gradient(x, y)
        flat = grad.reshape(len(grad), -1).double()
        nan = (~torch.isfinite(flat)).any(1)
        norms = torch.where(nan, torch.zeros_like(flat[:, 0]), flat.nan_to_num(0.0).norm(dim=1))
        out["grad_points"] = len(flat)
        out["grad_nonfinite"] = int(nan.sum())
        out["grad_zero"] = int(((norms <= 1e-12) & ~nan).sum())
        out["grad_median_norm"] = float(norms.median())
    return out


class _GenericKind(TaskKind):
    """Extraction / inference / poisoning: one task per (variant, attack), no eps."""

    def plan(self, cfg: AssessmentConfig, fingerprints: dict[str, str]) -> list[Task]:
        tasks = []
        for v in variants(cfg):
            common = self._common_content(cfg, v, fingerprints.get(v.target, ""))
            for label, name, params in self.attacks(cfg):
                cls = attack_class(name)
                content = {
                    **common,
                    "kind": self.goal,
                    "role": "suite",
                    "attack": name,
                    "label": label,
                    "params": params,
                }
                key = task_key(content)
                tasks.append(
                    Task(
                        key=key,
                        kind=self.goal,
                        role="suite",
                        target=v.target,
                        variant=v.label,
                        defense=common["defense"],
                        attack=label,
                        attack_name=name,
                        params=params,
                        eps=None,
                        norm="",
                        seed=task_seed(key),
                        requires=_requires(cls),
                    )
                )
        return tasks

    def execute(self, task: Task, cfg: AssessmentConfig, config_dir: str) -> dict[str, Any]:
        pts = load_points(cfg, config_dir)
        per_point = cfg.threat_model.query_budget.per_point
        max_q = None if per_point is None else per_point * len(pts.x)
        target = variant_target(cfg, task.target, _defense(task), config_dir, max_queries=max_q)
        cls = attack_class(task.attack_name)
        params = _resolve_params(cls, task.params, cfg, config_dir)
        if "seed" in getattr(cls, "_param_names", lambda: [])() and "seed" not in params:
            params["seed"] = task.seed
        attack = cls(**params)
        available = self._inputs(target, pts, task.seed)
        hook = getattr(attack, "assess_task", None)
        try:
            if callable(hook):
                res = hook(target, pts, seed=task.seed)
            else:
                verb = getattr(attack, self.verb, None)
                if not callable(verb):
                    raise ConfigError(
                        f"{task.attack_name} has no {self.verb}() method; it is not "
                        f"a {self.goal} attack"
                    )
                res = _bind_call(verb, available)
        except BudgetExhausted as exc:
            return {"status": "skipped", "reason": f"query budget too small: {exc}"}
        if not isinstance(res, Result):
            raise ConfigError(
                f"{task.attack_name}.{self.verb}() returned {type(res).__name__}; "
                "expected an advlab Result"
            )
        return self._finish(res, task, cfg, pts, config_dir)

    def _inputs(self, target: Any, pts: Points, seed: int) -> dict[str, Any]:
        """What the attack's verb may ask for, by parameter name."""
        return {
            "target": target,
            "x": pts.x,
            "y": pts.y,
            "x_train": pts.x_train,
            "y_train": pts.y_train,
            "x_test": pts.x_test,
            "y_test": pts.y_test,
            "x_eval": pts.x_test,
            "y_eval": pts.y_test,
            "seed": seed,
            "points": pts,
        }

    def _finish(
        self, res: Result, task: Task, cfg: AssessmentConfig, pts: Points, config_dir: str
    ) -> dict[str, Any]:
        return {"status": "ok", "result": _small(res.to_dict(arrays=False))}


def _small(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if not (isinstance(v, dict) and "__array__" in v)}


class ExtractionKind(_GenericKind):
    goal = "extraction"
    verb = "extract"
    suite = {a: [("knockoff", {})] for a in ("gradients", "scores", "labels")}


class InferenceKind(_GenericKind):
    goal = "inference"
    verb = "infer"
    suite = {a: [("loss-threshold", {}), ("lira", {})] for a in ("gradients", "scores")}


class PoisoningKind(_GenericKind):
    """Poison the training data, then retrain victims the way the target was trained.

    The attack's ``poison(x, y)`` gets the training split (``x``, ``y``) and the data bounds.
    When the target has a known training recipe (a ``reference`` target, or an advlab model
    file whose metadata holds its architecture and training config), ``victims`` models are
    trained from scratch on the poisoned set and ``victims`` on the clean set
    (:func:`advlab.attacks.poisoning.evaluate_poisoning`); attack success and the clean
    accuracy drop join the result's summary. Other targets record the poisoned set only.
    """

    goal = "poisoning"
    verb = "poison"
    suite = {a: [("badnets", {})] for a in ("gradients", "scores", "labels")}
    victims = 1

    def _inputs(self, target: Any, pts: Points, seed: int) -> dict[str, Any]:
        d = super()._inputs(target, pts, seed)
        d.update(x=pts.x_train, y=pts.y_train, bounds=tuple(pts.bounds))
        return d

    def _finish(
        self, res: Result, task: Task, cfg: AssessmentConfig, pts: Points, config_dir: str
    ) -> dict[str, Any]:
        from advlab.attacks.poisoning import PoisonedDataset, evaluate_poisoning

        out = super()._finish(res, task, cfg, pts, config_dir)
        if not isinstance(res, PoisonedDataset):
            return out
        recipe = victim_recipe(cfg, task.target, pts, config_dir)
        summary = out["result"].setdefault("summary", {})
        if recipe is None:
            summary["victims"] = 0
            out["note"] = (
                "victims not retrained: the target has no known training recipe "
                "(use a reference target or an advlab model file)"
            )
            return out
        spec, train = recipe
        ev = evaluate_poisoning(
            res,
            pts.x_train,
            pts.y_train,
            pts.x_test,
            pts.y_test,
            spec=spec,
            train=train,
            seeds=self.victims,
            seed=task.seed % (2**31),
        )
        keep = ("attack", "seed", "seconds", "queries", "gradient_calls")
        summary.update({k: v for k, v in ev.summary().items() if k not in keep})
        out["result"]["victims"] = _small(ev.to_dict(arrays=False))
        return out


def victim_recipe(
    cfg: AssessmentConfig, target_name: str, pts: Points, config_dir: str
) -> tuple[dict[str, Any], Any] | None:
    """``(architecture spec, TrainConfig)`` that reproduces how ``target_name`` was trained,
    or ``None`` when the assessment cannot know it (ONNX, HTTP, Python targets)."""
    from dataclasses import fields

    from advlab.assess.config import ModelFileTarget, ReferenceTarget
    from advlab.models import TrainConfig
    from advlab.models.arch import default_spec

    spec = next((t for t in cfg.targets if str(t.name) == target_name), None)
    if isinstance(spec, ReferenceTarget):
        shape = tuple(int(s) for s in pts.x_train.shape[1:])
        return default_spec(shape, pts.num_classes, spec.arch), TrainConfig(**spec.train)
    if isinstance(spec, ModelFileTarget):
        import json

        from advlab.models.io import meta_path

        meta_file = meta_path(resolve_path(spec.path, config_dir))
        meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        if not isinstance(meta.get("arch"), dict):
            return None
        valid = {f.name for f in fields(TrainConfig)}
        train = {k: v for k, v in (meta.get("train") or {}).items() if k in valid}
        return dict(meta["arch"]), TrainConfig(**train)
    return None


TASK_KINDS: dict[str, TaskKind] = {
    "evasion": EvasionKind(),
    "extraction": ExtractionKind(),
    "inference": InferenceKind(),
    "poisoning": PoisoningKind(),
}


# ---------------------------------------------------------------------------- execution
@dataclass
class Payload:
    task: dict[str, Any]
    config: dict[str, Any]
    config_dir: str
    run_dir: str
    extra: dict[str, Any] = field(default_factory=dict)


def execute(task: Task, cfg: AssessmentConfig, config_dir: str) -> dict[str, Any]:
    """Run one task; never raises for task-level failures (they become error records)."""
    t0 = time.perf_counter()
    torch.manual_seed(task.seed)
    try:
        body = TASK_KINDS[task.kind].execute(task, cfg, config_dir)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a failed task must not lose the others' results
        log.warning("task %s failed: %s", task.title, describe_error(exc))
        body = {"status": "error", "reason": describe_error(exc)}
    body["seconds"] = time.perf_counter() - t0
    if "result" in body and isinstance(body["result"], dict):
        s = body["result"].get("summary", {})
        for k, v in list(s.items()):
            if isinstance(v, float) and not math.isfinite(v):
                s[k] = None
    return body

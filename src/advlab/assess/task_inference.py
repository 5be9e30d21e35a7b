"""Membership-inference tasks: privacy audits with reference models (``goal: inference``).

One task per (variant, attack). Members are the target's training points, non-members
held-out points of the same dataset: ``k`` of each (``k`` = the smaller split, capped by
``data.n``), a seeded choice. The data pool (training and held-out points together) is what
the attacker's reference models train on.

Attacks that need reference models (flag ``needs_reference_models``: LiRA, RMIA, Shokri,
ML-Leaks) get ``privacy.reference_models`` of them, trained *like the target*: the recipe of a
``reference`` target or of an advlab model file (its metadata's ``arch`` and ``train``), with
DP-SGD at the target's ``privacy.dp_epsilon`` when it was DP-trained, or the user's own
``privacy.trainer`` (``module:function``). Each reference model trains on a balanced random
half of the pool (:func:`advlab.attacks.inference.reference.balanced_membership`). They are
trained once per target, in the runner's process and through the executor
(:meth:`InferenceKind.prepare`; ``privacy.executor``: serial, processes or Ray), and cached
by content hash under ``$ADVLAB_CACHE/mia-references``: one file per model, written the moment
it finishes, so an interrupted run resumes with the models it lacks and the attack tasks read
the same logits. A defended variant with an output defense passes the references' outputs
through the same defense (the attacker sees the API, not the model).

Each record carries the attack's metrics (AUC; TPR at ``privacy.fprs`` with 95% bootstrap
intervals; the high-confidence empirical epsilon), the thinned log-log ROC curve and, when
the target's ``privacy.dp_epsilon`` is known, the DP bound ``TPR <= e^eps FPR + delta`` at each
FPR and whether the attack exceeds it (:mod:`advlab.report.privacy` renders them).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from advlab.assess.build import Points, attack_class, load_points, variant_target
from advlab.assess.config import AssessmentConfig, ReferenceTarget, check_entry_module
from advlab.assess.rundir import Task
from advlab.assess.task_base import Variant, defense_of, resolve_params
from advlab.assess.task_generic import GenericKind, small
from advlab.errors import AdvlabError, BudgetExhausted, ConfigError

log = logging.getLogger(__name__)

NEEDS_REFERENCES = "needs_reference_models"


@dataclass
class Pool:
    """The attacker's data pool and the evaluated examples (indices into it)."""

    x: np.ndarray
    y: np.ndarray
    idx: np.ndarray
    members: np.ndarray  # (len(idx),) ground truth of the evaluated examples
    num_classes: int


def audit_pool(pts: Points, cfg: AssessmentConfig) -> Pool:
    """Training and held-out points pooled; ``k`` members and ``k`` non-members evaluated."""
    n_tr, n_te = len(pts.x_train), len(pts.x_test)
    k = min(n_tr, n_te, cfg.data.n)
    if k < 1:
        raise ConfigError("membership inference needs training and held-out points")
    rng = np.random.default_rng(cfg.data.seed)
    mem = np.sort(rng.permutation(n_tr)[:k])
    non = n_tr + np.sort(rng.permutation(n_te)[:k])
    return Pool(
        x=np.concatenate([pts.x_train, pts.x_test]).astype(np.float32),
        y=np.concatenate([pts.y_train, pts.y_test]).astype(np.int64),
        idx=np.r_[mem, non],
        members=np.r_[np.ones(k, bool), np.zeros(k, bool)],
        num_classes=pts.num_classes,
    )


def _entry_trainer(entry: str) -> Any:
    """A :class:`FunctionTrainer` around ``module:function``; its source file's hash is the
    cache version, so editing the function retrains."""
    from advlab.attacks.inference.reference import FunctionTrainer

    mod_name, fn_name = entry.split(":")
    try:
        check_entry_module(mod_name)
        fn = getattr(importlib.import_module(mod_name), fn_name)
    except (ValueError, ImportError, AttributeError) as exc:
        raise ConfigError(f"privacy.trainer {entry!r}: {exc}") from None
    try:
        src = inspect.getsource(fn)
    except (OSError, TypeError):
        src = entry
    return FunctionTrainer(fn=fn, version=hashlib.sha256(src.encode()).hexdigest()[:12])


def reference_trainer(cfg: AssessmentConfig, target: str, pts: Points, config_dir: str) -> Any:
    """How the reference models of ``target`` are trained: like the target."""
    from advlab.assess.task_poisoning import victim_recipe
    from advlab.attacks.inference.reference import TorchTrainer

    p = cfg.privacy
    if p.trainer:
        return _entry_trainer(p.trainer)
    recipe = victim_recipe(cfg, target, pts, config_dir)
    if recipe is None:
        raise ConfigError(
            f"target {target!r}: reference models must be trained like the target, and its "
            "training recipe is unknown (not a reference target, or a model file without "
            "'arch' in its metadata); give privacy.trainer: 'module:function'"
        )
    spec, train = recipe
    eps = p.dp_epsilon if p.dp_references else None
    return TorchTrainer(spec=spec, config=train, epsilon=eps, delta=p.dp_delta)


def check_membership_truth(cfg: AssessmentConfig, target: str) -> None:
    """A reference target trained on another dataset or split than the assessment's data
    would make the ground truth wrong: refuse it."""
    spec = next((t for t in cfg.targets if str(t.name) == target), None)
    if isinstance(spec, ReferenceTarget) and (
        spec.dataset != cfg.data.dataset or cfg.data.seed != 0
    ):
        raise ConfigError(
            f"target {target!r} was trained on {spec.dataset!r} (split seed 0) but the data is "
            f"{cfg.data.dataset!r} (split seed {cfg.data.seed}): members would be wrong; use "
            f"data: {{dataset: {spec.dataset}, seed: 0}}"
        )


def references_for(
    cfg: AssessmentConfig,
    target: str,
    config_dir: str,
    executor: Any = "serial",
) -> tuple[Any, Pool]:
    """Train (or read from the cache) the reference models of ``target`` on its pool."""
    from advlab.attacks.inference.reference import ReferenceModels
    from advlab.models.zoo import cache_dir

    pts = load_points(cfg, config_dir)
    pool = audit_pool(pts, cfg)
    refs = ReferenceModels(
        trainer=reference_trainer(cfg, target, pts, config_dir),
        n_models=cfg.privacy.reference_models,
        seed=cfg.seed,
        cache_dir=cache_dir() / "mia-references",
        executor=executor,
    )
    return refs.run(pool.x, pool.y, num_classes=pool.num_classes), pool


class InferenceKind(GenericKind):
    """Membership inference with reference models; other inference attacks (inversion,
    attribute inference) run through the generic verb binding."""

    goal = "inference"
    verb = "infer"

    def common_content(self, cfg: AssessmentConfig, v: Variant, fp: str) -> dict[str, Any]:
        return {**super().common_content(cfg, v, fp), "privacy": cfg.privacy.model_dump()}

    def prepare(
        self, cfg: AssessmentConfig, config_dir: str, tasks: list[Task], executor: Any
    ) -> None:
        """Train every target's reference models once, through ``privacy.executor`` (else
        the assessment's executor), before the attack tasks read them from the cache. A
        failure is logged here and reported by each task that needs the models."""
        from advlab.parallel import get_executor

        p = cfg.privacy
        ex = executor
        if p.executor is not None:
            kw = {"workers": p.workers} if p.executor == "processes" and p.workers else {}
            ex = get_executor(p.executor, **kw)
        for name in sorted({t.target for t in tasks if NEEDS_REFERENCES in t.flags}):
            try:
                check_membership_truth(cfg, name)
                references_for(cfg, name, config_dir, ex)
            except Exception as exc:  # each task needing them records the failure itself
                from advlab.assess.build import describe_error

                log.warning("reference models of %r: %s", name, describe_error(exc))

    def execute(self, task: Task, cfg: AssessmentConfig, config_dir: str) -> dict[str, Any]:
        from advlab.attacks.inference.base import MembershipAttack

        cls = attack_class(task.attack_name)
        if not (isinstance(cls, type) and issubclass(cls, MembershipAttack)):
            return super().execute(task, cfg, config_dir)
        check_membership_truth(cfg, task.target)
        params = resolve_params(cls, task.params, cfg, config_dir)
        if "seed" in cls._param_names() and "seed" not in params:
            params["seed"] = task.seed
        attack = cls(**params)
        pts = load_points(cfg, config_dir)
        pool = audit_pool(pts, cfg)
        per_point = cfg.threat_model.query_budget.per_point
        max_q = None if per_point is None else per_point * len(pool.idx)
        target = variant_target(cfg, task.target, defense_of(task), config_dir, max_queries=max_q)
        try:
            signals, note = self._signals(attack, target, task, cfg, config_dir, pool)
        except BudgetExhausted as exc:
            return {"status": "skipped", "reason": f"query budget too small: {exc}"}
        p = cfg.privacy
        res = attack.infer(signals, delta=p.dp_delta, fprs=p.fprs, seed=task.seed % (2**31))
        out: dict[str, Any] = {"status": "ok", "result": small(res.to_dict(arrays=False))}
        out["result"]["privacy"] = audit_figures(res.scores, res.members, signals, attack, cfg)
        summary = out["result"].setdefault("summary", {})
        summary["empirical_epsilon"] = out["result"]["privacy"]["empirical_epsilon"]
        summary["reference_models"] = signals.n_models
        if note:
            out["note"] = note
        return out

    def _signals(
        self,
        attack: Any,
        target: Any,
        task: Task,
        cfg: AssessmentConfig,
        config_dir: str,
        pool: Pool,
    ) -> tuple[Any, str]:
        from advlab.attacks.inference.signals import apply_output_defense, collect_signals

        x, y, members = pool.x[pool.idx], pool.y[pool.idx], pool.members
        extract = getattr(attack, "extract", None)
        if callable(extract):  # attacks that query the target themselves (label-only boundary)
            return extract(target, x, y, members=members), ""
        if NEEDS_REFERENCES not in task.flags:
            return collect_signals(target, x, y, members=members), ""
        ref, _ = references_for(cfg, task.target, config_dir)
        signals = collect_signals(target, x, y, members=members)
        signals.ref_logits = ref.logits[:, pool.idx]
        signals.ref_in = ref.ref_in[:, pool.idx]
        signals.meta["reference_key"] = ref.key
        d = defense_of(task)
        if d is None:
            return signals, ""
        from advlab.assess.build import defense_class

        defense = defense_class(d.name)(**d.params)
        if getattr(defense, "role", "") == "postprocess":
            signals.ref_logits = apply_output_defense(signals.ref_logits, defense)
            return signals, f"reference outputs passed through {d.name}, as the target's"
        return signals, f"reference models answer without {d.name} (not an output defense)"


def audit_figures(
    scores: np.ndarray, members: np.ndarray, signals: Any, attack: Any, cfg: AssessmentConfig
) -> dict[str, Any]:
    """What the report's privacy section draws: the log-log ROC, the empirical epsilon and,
    with a known DP guarantee, the bound at each FPR and whether the attack exceeds it."""
    from advlab.privacy.metrics import dp_tpr_bound, empirical_epsilon, roc_points, tpr_at_fpr

    p = cfg.privacy
    n_neg = int((~np.asarray(members, bool)).sum())
    out: dict[str, Any] = {
        "roc": [[f, t] for f, t in roc_points(scores, members, floor=1.0 / max(10 * n_neg, 1))],
        "empirical_epsilon": empirical_epsilon(scores, members, delta=p.dp_delta),
        "reference_models": signals.n_models,
        "epsilon": p.dp_epsilon,
        "delta": p.dp_delta,
    }
    mode = getattr(attack, "variance_mode", None)
    if callable(mode) and signals.n_models:
        out["variance_mode"] = mode(signals.n_models)
    if p.dp_epsilon is not None:
        bound = {f"{f * 100:g}%": float(dp_tpr_bound(f, p.dp_epsilon, p.dp_delta)) for f in p.fprs}
        measured = {f"{f * 100:g}%": tpr_at_fpr(scores, members, f) for f in p.fprs}
        out["dp_bound"] = bound
        out["dp_bound_exceeded"] = sorted(k for k in bound if measured[k] > bound[k] + 1e-12)
        out["dp_violated"] = out["empirical_epsilon"] > p.dp_epsilon
    return out


def privacy_problems(cfg: AssessmentConfig, config_dir: str | Path) -> list[str]:
    """What ``advlab validate`` reports before a ``goal: inference`` run: targets whose
    reference models cannot be trained like them, reference targets audited on other data,
    and ``tpr_at_fpr`` gates at an FPR the audit does not compute."""
    import json

    from advlab.assess.build import resolve_path
    from advlab.assess.config import ModelFileTarget
    from advlab.assess.gates import parse_gate
    from advlab.models.io import meta_path

    if cfg.threat_model.goal != "inference":
        return []
    problems = []
    names = [a.name for a in cfg.attacks] if cfg.attacks is not None else []
    if cfg.attacks is None:
        names = [n for n, _ in InferenceKind().default_suite(cfg)]
    needs = []
    for n in names:
        try:
            if NEEDS_REFERENCES in getattr(attack_class(n), "flags", ()):
                needs.append(n)
        except (AdvlabError, KeyError):
            continue  # check_config reports unknown names
    for i, t in enumerate(cfg.targets if needs and cfg.privacy.trainer is None else []):
        known = isinstance(t, ReferenceTarget)
        if isinstance(t, ModelFileTarget):
            meta = meta_path(resolve_path(t.path, config_dir))
            known = meta.is_file() and isinstance(json.loads(meta.read_text()).get("arch"), dict)
        if not known:
            problems.append(
                f"targets.{i}: {', '.join(needs)} need(s) reference models trained like the "
                "target, whose training recipe is unknown; give privacy.trainer: "
                "'module:function'"
            )
    for t in cfg.targets:
        try:
            check_membership_truth(cfg, str(t.name))
        except ConfigError as exc:
            problems.append(f"data: {exc}")
    keys = {f"{f * 100:g}%" for f in cfg.privacy.fprs}
    for i, text in enumerate(cfg.gates):
        g = parse_gate(text)
        if g.metric == "tpr_at_fpr" and f"{g.args['fpr'] * 100:g}%" not in keys:
            problems.append(f"gates.{i}: FPR {g.args['fpr']:g} is not in privacy.fprs")
    return problems

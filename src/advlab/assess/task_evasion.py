"""Evasion tasks: the suite at every eps, the white-box reference attacks the sanity checks
compare against, and a probe of each target; each result is re-verified independently."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from advlab.access import Access
from advlab.assess.build import Points, attack_class, load_points, variant_target
from advlab.assess.config import (
    AssessmentConfig,
    HttpTarget,
    ModelFileTarget,
    OnnxTarget,
    ReferenceTarget,
)
from advlab.assess.rundir import NotApplicable, Reference, Role, Task
from advlab.assess.sanity import GRADIENT_CHECKS, SCORE_CHECKS
from advlab.assess.task_base import (
    TaskKind,
    Variant,
    defense_of,
    flags_of,
    make_task,
    requires_of,
    resolve_params,
    variants,
)
from advlab.errors import ConfigError
from advlab.norms import lp_norm

MAX_EXAMPLES = 6

#: the reference attacks: (reference, registry name, parameters); eps is the middle one
REFERENCES: list[tuple[Reference, str, dict[str, Any]]] = [
    (Reference.FGSM, "fgsm", {}),
    (Reference.SHORT, "pgd", {"steps": 20}),
    (Reference.LONG, "pgd", {"steps": 50, "restarts": 2}),
    (Reference.HUGE, "pgd", {"steps": 40}),
]
REFERENCE_LABELS = {
    Reference.FGSM: "fgsm (sanity)",
    Reference.SHORT: "pgd-20 (sanity)",
    Reference.LONG: "pgd-50x2 (sanity)",
    Reference.HUGE: "pgd huge-eps (sanity)",
}


def declared_access(cfg: AssessmentConfig, target: str) -> Access | None:
    """The access a target's kind gives before it is built (``None``: known only once built,
    e.g. a Python entry point)."""
    spec = next((t for t in cfg.targets if str(t.name) == target), None)
    if isinstance(spec, HttpTarget):
        return Access.LABELS if spec.returns == "labels" else Access.SCORES
    if isinstance(spec, OnnxTarget):
        return Access.SCORES
    if isinstance(spec, (ModelFileTarget, ReferenceTarget)):
        return Access.GRADIENTS
    return None


class EvasionKind(TaskKind):
    goal = "evasion"
    verb = "run"

    def plan(self, cfg: AssessmentConfig, fingerprints: dict[str, str]) -> list[Task]:
        pert = cfg.threat_model.perturbation
        tasks: list[Task] = []
        suite = self.attacks(cfg)
        for v in variants(cfg):
            common = self.common_content(cfg, v, fingerprints.get(v.target, ""))
            for label, name, params in suite:
                cls = attack_class(name)
                for eps in pert.eps:
                    tasks.append(
                        make_task(
                            common,
                            v,
                            kind="evasion",
                            role=Role.SUITE,
                            label=label,
                            name=name,
                            params=params,
                            eps=eps,
                            norm=pert.norm,
                            requires=requires_of(cls),
                            flags=flags_of(cls),
                        )
                    )
            if cfg.sanity.enabled and cfg.sanity.extra_attacks and self._white_box(cfg, v):
                tasks.extend(self._sanity_tasks(cfg, v, common))
            if cfg.sanity.enabled:
                tasks.append(
                    make_task(
                        common,
                        v,
                        kind="evasion",
                        role=Role.PROBE,
                        label="probe",
                        name="probe",
                        params={},
                        norm=pert.norm,
                        requires="scores",
                    )
                )
        return tasks

    @staticmethod
    def _white_box(cfg: AssessmentConfig, v: Variant) -> bool:
        access = declared_access(cfg, v.target)
        return access is None or access >= Access.GRADIENTS

    def not_applicable(self, cfg: AssessmentConfig) -> list[NotApplicable]:
        if not cfg.sanity.enabled:
            return []
        out = []
        for v in variants(cfg):
            access = declared_access(cfg, v.target)
            if access is None or access >= Access.GRADIENTS:
                continue
            why = f"the target gives {access.name.lower()} access, no gradients"
            checks = list(GRADIENT_CHECKS)
            if access < Access.SCORES:
                checks += SCORE_CHECKS
            out += [NotApplicable(check=c, variant=v.label, reason=why) for c in checks]
        return out

    def _sanity_tasks(
        self, cfg: AssessmentConfig, v: Variant, common: dict[str, Any]
    ) -> list[Task]:
        """White-box reference attacks the checks need (run with full access to the model)."""
        pert = cfg.threat_model.perturbation
        eps_sorted = sorted(pert.eps)
        middle = eps_sorted[len(eps_sorted) // 2]
        lo, hi = pert.bounds or (0.0, 1.0)
        huge = {"linf": 1.0, "l2": 100.0, "l1": 100.0}[pert.norm] * (hi - lo)
        out: list[Task] = []
        for ref, name, params in REFERENCES:
            try:
                cls = attack_class(name)
            except (ConfigError, LookupError):
                continue
            out.append(
                make_task(
                    common,
                    v,
                    kind="evasion",
                    role=Role.SANITY,
                    label=REFERENCE_LABELS[ref],
                    name=name,
                    params=params,
                    eps=huge if ref is Reference.HUGE else middle,
                    norm=pert.norm,
                    requires="gradients",
                    reference=ref,
                    flags=flags_of(cls),
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
        if task.role is Role.PROBE:
            return {"status": "ok", "probe": probe(cfg, task, config_dir, pts)}
        per_point = cfg.threat_model.query_budget.per_point
        sanity = task.role is Role.SANITY
        max_q = None if (per_point is None or sanity) else per_point * len(pts.x)
        target = variant_target(
            cfg,
            task.target,
            defense_of(task),
            config_dir,
            max_queries=max_q,
            reduce_access=not sanity,
        )
        if sanity and target.access < Access.GRADIENTS:
            return {
                "status": "skipped",
                "reason": f"not applicable: the target gives {target.access.name.lower()} "
                "access, and the reference attacks need gradients",
                "note": "not-applicable",
            }
        cls = attack_class(task.attack_name)
        params = resolve_params(cls, task.params, cfg, config_dir)
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
        targeted = cfg.threat_model.targeted and "targeted" in getattr(cls, "flags", ())
        if targeted:
            g = np.random.default_rng(task.seed)
            y = torch.as_tensor(
                (pts.y + g.integers(1, pts.num_classes, size=len(pts.y))) % pts.num_classes
            )
        res = attack.run(target, pts.x, y, targeted=targeted)
        return {"status": "ok", **verify(res, pts, cfg, config_dir, task)}


def verify(
    res: Any, pts: Points, cfg: AssessmentConfig, config_dir: str, task: Task
) -> dict[str, Any]:
    """Independent re-check of the returned points (eps, bounds, immutable features, claimed
    successes) and gallery examples. The attack's result is stored as it returned it."""
    x = torch.as_tensor(pts.x)
    x_adv = torch.as_tensor(np.asarray(res.x_adv, dtype=np.float32)) if res.x_adv is not None else x
    verifier = variant_target(cfg, task.target, defense_of(task), config_dir, reduce_access=False)
    immutable = cfg.threat_model.perturbation.immutable
    changed = 0
    if immutable:
        flat, orig = x_adv.reshape(len(x_adv), -1), x.reshape(len(x), -1)
        changed = int((flat[:, immutable] != orig[:, immutable]).any(1).sum())
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
    feasible = verifier.feasible(x.to(verifier.device), x_adv.to(verifier.device))
    infeasible = 0 if feasible is None else int((success & ~feasible.cpu()).sum())
    res.x_adv = None
    d = res.to_dict()
    d["summary"]["robust_accuracy"] = float(res.robust_accuracy)
    examples: dict[str, Any] = {}
    if pts.modality == "image" and bool(success.any()):
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
            "claimed_not_adversarial": int((success & ~really).sum()),
            "immutable_changed": changed,
            "infeasible": infeasible,
        },
        "examples": examples,
    }


def probe(cfg: AssessmentConfig, task: Task, config_dir: str, pts: Points) -> dict[str, Any]:
    """Cheap measurements the sanity checks need: gradients, randomness, output scale."""
    t = variant_target(cfg, task.target, defense_of(task), config_dir, reduce_access=False)
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

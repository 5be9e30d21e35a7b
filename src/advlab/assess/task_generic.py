"""Extraction tasks (and the base of inference and poisoning): one task per
(variant, attack), no eps.

An attack class may define ``assess_task(target, points, *, seed) -> Result``; otherwise its
verb (``extract`` / ``infer`` / ``poison``) is called with arguments bound by parameter name
from ``target, x, y, x_train, y_train, x_test, y_test, x_eval, y_eval, seed, points``.
"""

from __future__ import annotations

from typing import Any

from advlab.assess.build import Points, attack_class, load_points, variant_target
from advlab.assess.config import AssessmentConfig
from advlab.assess.rundir import Role, Task
from advlab.assess.task_base import (
    TaskKind,
    bind_call,
    defense_of,
    flags_of,
    make_task,
    requires_of,
    resolve_params,
    variants,
)
from advlab.errors import BudgetExhausted, ConfigError
from advlab.results import Result


class GenericKind(TaskKind):
    """Extraction / inference / poisoning: one task per (variant, attack), no eps."""

    def plan(self, cfg: AssessmentConfig, fingerprints: dict[str, str]) -> list[Task]:
        tasks = []
        for v in variants(cfg):
            common = self.common_content(cfg, v, fingerprints.get(v.target, ""))
            for label, name, params in self.attacks(cfg):
                cls = attack_class(name)
                tasks.append(
                    make_task(
                        common,
                        v,
                        kind=self.goal,
                        role=Role.SUITE,
                        label=label,
                        name=name,
                        params=params,
                        requires=requires_of(cls),
                        flags=flags_of(cls),
                    )
                )
        return tasks

    def execute(self, task: Task, cfg: AssessmentConfig, config_dir: str) -> dict[str, Any]:
        pts = load_points(cfg, config_dir)
        per_point = cfg.threat_model.query_budget.per_point
        max_q = None if per_point is None else per_point * len(pts.x)
        target = variant_target(cfg, task.target, defense_of(task), config_dir, max_queries=max_q)
        cls = attack_class(task.attack_name)
        params = resolve_params(cls, task.params, cfg, config_dir)
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
                res = bind_call(verb, available)
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
        return {"status": "ok", "result": small(res.to_dict(arrays=False))}


def small(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if not (isinstance(v, dict) and "__array__" in v)}


class ExtractionKind(GenericKind):
    goal = "extraction"
    verb = "extract"

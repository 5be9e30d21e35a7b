"""Poisoning tasks: poison the training split, then retrain victims the way the target was
trained and measure what the poison did."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from advlab.assess.build import Points, resolve_path
from advlab.assess.config import AssessmentConfig, ModelFileTarget, ReferenceTarget
from advlab.assess.rundir import Task
from advlab.assess.task_generic import GenericKind, small
from advlab.results import Result


class PoisoningKind(GenericKind):
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
        out["result"]["victims"] = small(ev.to_dict(arrays=False))
        return out


def victim_recipe(
    cfg: AssessmentConfig, target_name: str, pts: Points, config_dir: str
) -> tuple[dict[str, Any], Any] | None:
    """``(architecture spec, TrainConfig)`` that reproduces how ``target_name`` was trained,
    or ``None`` when the assessment cannot know it (ONNX, HTTP, Python targets)."""
    from advlab.models import TrainConfig
    from advlab.models.arch import default_spec

    spec = next((t for t in cfg.targets if str(t.name) == target_name), None)
    if isinstance(spec, ReferenceTarget):
        shape = tuple(int(s) for s in pts.x_train.shape[1:])
        return default_spec(shape, pts.num_classes, spec.arch), TrainConfig(**spec.train)
    if isinstance(spec, ModelFileTarget):
        from advlab.models.io import meta_path

        meta_file = meta_path(resolve_path(spec.path, config_dir))
        meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        if not isinstance(meta.get("arch"), dict):
            return None
        valid = {f.name for f in fields(TrainConfig)}
        train = {k: v for k, v in (meta.get("train") or {}).items() if k in valid}
        return dict(meta["arch"]), TrainConfig(**train)
    return None

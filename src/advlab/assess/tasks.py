"""Tasks (target x attack x eps) and the task-kind dispatch table.

Each goal has a :class:`TaskKind` in :data:`TASK_KINDS` (one module each): it plans the
tasks of the goal, recommends a default suite, estimates an attack's minimum query cost and
executes one task. Evasion (:mod:`advlab.assess.task_evasion`) is implemented end to end.
Extraction (:mod:`advlab.assess.task_generic`), inference with reference models
(:mod:`advlab.assess.task_inference`) and poisoning
(:mod:`advlab.assess.task_poisoning`) plug in by name: an attack class may define
``assess_task(target, points, *, seed) -> Result``; otherwise its verb (``extract`` /
``infer`` / ``poison``) is called with arguments bound by parameter name from ``target, x,
y, x_train, y_train, x_test, y_test, x_eval, y_eval, seed``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from advlab.assess.build import describe_error
from advlab.assess.config import AssessmentConfig
from advlab.assess.rundir import Reference, Role, Task
from advlab.assess.task_base import (
    RUNNER_VERSION,
    TaskKind,
    Variant,
    task_key,
    task_seed,
    variants,
)
from advlab.assess.task_evasion import MAX_EXAMPLES, EvasionKind, probe
from advlab.assess.task_generic import ExtractionKind
from advlab.assess.task_inference import InferenceKind
from advlab.assess.task_llm import LLMKind
from advlab.assess.task_poisoning import PoisoningKind, victim_recipe

log = logging.getLogger(__name__)

TASK_KINDS: dict[str, TaskKind] = {
    "evasion": EvasionKind(),
    "extraction": ExtractionKind(),
    "inference": InferenceKind(),
    "poisoning": PoisoningKind(),
    "llm": LLMKind(),
}


@dataclass
class Payload:
    task: dict[str, Any]
    config: dict[str, Any]
    config_dir: str
    run_dir: str
    extra: dict[str, Any] = field(default_factory=dict)


def execute(
    task: Task, cfg: AssessmentConfig, config_dir: str, run_dir: str | None = None
) -> dict[str, Any]:
    """Run one task; never raises for task-level failures (they become error records).
    ``run_dir``: the run directory (kinds that keep per-task state there use it)."""
    t0 = time.perf_counter()
    torch.manual_seed(task.seed)
    try:
        body = TASK_KINDS[task.kind].execute_in(task, cfg, config_dir, run_dir)
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


__all__ = [
    "MAX_EXAMPLES",
    "RUNNER_VERSION",
    "TASK_KINDS",
    "EvasionKind",
    "ExtractionKind",
    "InferenceKind",
    "Payload",
    "PoisoningKind",
    "Reference",
    "Role",
    "Task",
    "TaskKind",
    "Variant",
    "execute",
    "probe",
    "task_key",
    "task_seed",
    "variants",
    "victim_recipe",
]

"""LLM tasks (``threat_model.goal: llm``): one task per (variant, probe).

The variants are the LLM target as it is and, when the config lists ``llm.guards``, the
target behind those guards. Both run the same attempts (the probes are seeded by the
config's seed, not the task's), so the report can set success before and after the guards
side by side. A task runs its probe through :func:`advlab.llm.probes.runner.run_probe` (one
:class:`~advlab.llm.harness.Harness`: concurrency, retries, rate limits) after one preflight
request (:func:`advlab.llm.preflight.preflight`), and records:

* ``result.summary``: ``attack_success`` (the share of answered attempts that any of the
  probe's detectors judged a success) with its bootstrap interval (``attack_success_low``,
  ``attack_success_high``), ``hits``, ``attempts``, ``errors`` and ``prompts_sent``: what
  gates read (``attack_success(prompt_injection) <= 0.05``);
* ``result.llm``: the probe's full result (:meth:`ProbeResult.to_dict`: OWASP ids, success
  per detector corrected for its measured error, every transcript with its judgements),
  with API keys redacted.

Resuming re-runs only the tasks without a finished record, like every other goal, and an
interrupted task does not send again what it had finished: in a run directory each task's
harness keeps its journal in ``llm/<task key>.jsonl`` (its attacker's in
``llm/<task key>.attacker.jsonl``) and the run shares one response cache,
``llm/cache.sqlite`` (:func:`request_files`), so a task killed or failed half way resumes
request by request. ``llm.max_prompts`` bounds the requests each probe sends to the target,
every round of an adaptive probe (PAIR, Crescendo) included.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
from pathlib import Path
from typing import Any, ClassVar

from advlab.assess.build import resolve_path
from advlab.assess.config import AssessmentConfig
from advlab.assess.config_llm import LLMPluginSpec, LLMSpec, LLMTargetSpec
from advlab.assess.rundir import Role, Task
from advlab.assess.task_base import TaskKind, Variant, make_task
from advlab.errors import ConfigError

GUARDS = "guards"
"""The ``defense.name`` of a guarded variant's tasks."""


def _spec(cfg: AssessmentConfig) -> LLMSpec:
    if cfg.llm is None:
        raise ConfigError("llm: required when threat_model.goal is llm")
    return cfg.llm


def _guards(specs: list[dict[str, Any]]) -> list[Any]:
    from advlab.registry import get_plugin

    return [get_plugin("defense", g["name"])(**g.get("params", {})) for g in specs]


def load_llm_target(
    spec: LLMTargetSpec, config_dir: str, guards: list[Any] | None = None
) -> tuple[Any, tuple[str, ...]]:
    """The LLM target of ``spec`` (behind ``guards``) and the secrets it is known to hold
    (a :class:`~advlab.llm.apps.ChatApp`'s password)."""
    from advlab.llm.apps import ChatApp
    from advlab.llm.guards.base import guard
    from advlab.llm.openai import OpenAIChatTarget

    obj: Any
    if spec.app is not None:
        obj = ChatApp.level(int(spec.level or 0))
    elif spec.entry is not None:
        folder = str(resolve_path(spec.pythonpath or ".", config_dir))
        if folder not in sys.path:
            sys.path.insert(0, folder)
        mod_name, fn_name = spec.entry.split(":")
        fn = getattr(importlib.import_module(mod_name), fn_name, None)
        if not callable(fn):
            raise ConfigError(f"llm.target.entry {spec.entry!r}: no callable {fn_name!r}")
        obj = fn()
    else:
        obj = OpenAIChatTarget(
            str(spec.base_url), model=str(spec.model), api_key_env=spec.api_key_env
        )
    secrets: tuple[str, ...] = ()
    if isinstance(obj, ChatApp):
        secrets = (obj.secret,)
        if guards:  # the app's own guard hook: retrieved documents pass the input guards
            obj = dataclasses.replace(obj, guards=tuple(obj.guards) + tuple(guards))
        return obj.target(), secrets
    if not callable(getattr(obj, "acomplete", None)) or not hasattr(obj, "identity"):
        raise ConfigError(
            f"llm.target.entry {spec.entry!r} returned {type(obj).__name__}, "
            "not an LLM target or a ChatApp"
        )
    return (guard(obj, *guards) if guards else obj), secrets


LLM_DIR = "llm"
"""The run directory's folder of request journals and the response cache."""


def request_files(run_dir: str | Path | None, key: str) -> dict[str, Path]:
    """Where a task's requests are kept in ``run_dir`` (nothing without one): the response
    cache shared by the run (``llm/cache.sqlite``), the task's journal
    (``llm/<key>.jsonl``) and its attacker's (``llm/<key>.attacker.jsonl``)."""
    if run_dir is None:
        return {}
    folder = Path(run_dir) / LLM_DIR
    return {
        "cache": folder / "cache.sqlite",
        "journal": folder / f"{key}.jsonl",
        "attacker": folder / f"{key}.attacker.jsonl",
    }


class LLMKind(TaskKind):
    """Probes against one LLM target, with and without the configured guards."""

    goal = "llm"
    probes_targets: ClassVar[bool] = False

    def llm_variants(self, cfg: AssessmentConfig) -> list[tuple[Variant, dict[str, Any] | None]]:
        """``(variant, defense record)``: the target, then the target behind the guards."""
        spec = _spec(cfg)
        name = spec.target.name
        out: list[tuple[Variant, dict[str, Any] | None]] = [(Variant(name, name, None), None)]
        if spec.guards:
            guards = [g.model_dump(mode="json") for g in spec.guards]
            label = f"{name}+{'+'.join(g.display for g in spec.guards)}"
            defense = {"name": GUARDS, "params": {"guards": guards}, "label": label}
            out.append((Variant(label, name, None), defense))
        return out

    def probes(self, cfg: AssessmentConfig) -> list[LLMPluginSpec]:
        from advlab.llm.preflight import DEFAULT_PROBES

        spec = _spec(cfg)
        return spec.probes or [LLMPluginSpec.model_validate(n) for n in DEFAULT_PROBES]

    def plan(self, cfg: AssessmentConfig, fingerprints: dict[str, str]) -> list[Task]:
        spec = _spec(cfg)
        tasks = []
        for v, defense in self.llm_variants(cfg):
            common = {
                "target": spec.target.model_dump(mode="json"),
                "defense": defense,
                "seed": cfg.seed,
                "llm": spec.model_dump(mode="json", exclude={"probes", "guards", "target"}),
            }
            for p in self.probes(cfg):
                params = dict(p.params)
                if spec.transforms:
                    params.setdefault("transforms", list(spec.transforms))
                if spec.detectors:
                    params.setdefault("detectors", list(spec.detectors))
                tasks.append(
                    make_task(
                        common,
                        v,
                        kind=self.goal,
                        role=Role.SUITE,
                        label=p.display,
                        name=p.name,
                        params=params,
                        requires="none",
                    )
                )
        return tasks

    def execute(self, task: Task, cfg: AssessmentConfig, config_dir: str) -> dict[str, Any]:
        return self.execute_in(task, cfg, config_dir, None)

    def execute_in(
        self, task: Task, cfg: AssessmentConfig, config_dir: str, run_dir: str | None
    ) -> dict[str, Any]:
        from advlab.llm.harness import Harness
        from advlab.llm.preflight import preflight, scan_params
        from advlab.llm.probes.base import DEFAULT_OBJECTIVES, ScanContext
        from advlab.llm.probes.pair import template_attacker_target
        from advlab.llm.probes.runner import run_probe
        from advlab.llm.stats import success_rate
        from advlab.registry import get_plugin
        from advlab.secrets import redact

        spec = _spec(cfg)
        guards = _guards((task.defense or {}).get("params", {}).get("guards", []))
        target, known = load_llm_target(spec.target, config_dir, guards)
        params = scan_params(cfg.seed)
        secrets = tuple(dict.fromkeys((*known, *spec.secrets)))
        ctx = ScanContext(
            secrets=secrets, objectives=tuple(spec.objectives) or DEFAULT_OBJECTIVES, params=params
        )
        files = request_files(run_dir, task.key)
        harness = Harness(
            target,
            concurrency=spec.concurrency,
            retries=2,
            seed=cfg.seed,
            cache=files.get("cache"),
            journal=files.get("journal"),
        )
        preflight(harness, params)
        probe_params = {k: tuple(v) if isinstance(v, list) else v for k, v in task.params.items()}
        probe = get_plugin("probe", task.attack_name)(**{"seed": cfg.seed, **probe_params})
        attacker_target = (
            load_llm_target(spec.attacker, config_dir)[0]
            if spec.attacker is not None
            else template_attacker_target()
        )
        attacker = Harness(attacker_target, cache=files.get("cache"), journal=files.get("attacker"))
        r = run_probe(probe, harness, ctx, attacker=attacker, max_requests=spec.max_prompts)
        if r.stopped:
            return {"status": "error", "reason": f"the target stopped answering: {r.stopped}"}
        rate = success_rate([j.hit for j in r.judged if j.attempt.ok], seed=cfg.seed)
        detail = json.loads(redact(json.dumps(r.to_dict(), ensure_ascii=False)))
        detail["attack_success"] = rate.to_dict()
        detail["guards"] = [g.name for g in guards]
        return {
            "status": "ok",
            "result": {
                "summary": {
                    "attack_success": rate.observed,
                    "attack_success_low": rate.low,
                    "attack_success_high": rate.high,
                    "hits": len(r.hits),
                    "attempts": len(r.judged),
                    "errors": r.errors,
                    "prompts_sent": int(r.counters["sent"]),
                },
                "llm": detail,
            },
        }

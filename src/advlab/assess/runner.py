"""The assessment runner: plan tasks, execute them through an executor, keep every result.

The runner is the only writer of a run directory (see :mod:`advlab.assess.rundir` for the
schema): ``run.json`` first, one task record per finished task (written atomically by the
worker the moment the task finishes), then -- once, at the end -- ``results.json`` with the
sanity warnings and gate verdicts, and the reports the config asks for.

``resume=True`` skips every task whose record exists (ok or skipped); errored tasks are
retried. A killed run (Ctrl-C, ``kill -9``) therefore loses at most the tasks in flight.
Seeds derive from each task's content hash, never from the executor or the order, so the
serial and process executors give identical numbers.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advlab.assess.build import base_target, file_fingerprint, resolve_path
from advlab.assess.config import (
    AssessmentConfig,
    ModelFileTarget,
    OnnxTarget,
    load_config,
    parse_config,
)
from advlab.assess.rundir import (
    RESULTS_SCHEMA,
    RUN_SCHEMA,
    SCHEMA_VERSION,
    NotApplicable,
    RunDirError,
    RunMeta,
    RunResults,
    Task,
    TaskRecord,
    count,
    load_meta,
    load_records,
    load_results,
    load_run,
    parse_record,
    results_from_records,
    write_model,
)
from advlab.assess.tasks import TASK_KINDS, Payload, execute, variants
from advlab.errors import AdvlabError, ConfigError
from advlab.parallel import Executor, get_executor

log = logging.getLogger(__name__)

RESULTS_SCHEMA_VERSION = SCHEMA_VERSION
EXIT_OK, EXIT_GATE_FAILED, EXIT_ERROR, EXIT_NOTHING, EXIT_USAGE = 0, 1, 2, 3, 4
EXIT_INCONCLUSIVE = 5  # a blocking sanity finding: the evaluation cannot be trusted
FINISHED = ("ok", "skipped")


class AssessmentInterrupted(AdvlabError):
    """Ctrl-C: finished tasks are kept; resume with ``--resume``."""


@dataclass
class RunOutcome:
    run_dir: Path
    planned: int
    ran: int
    reused: int
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return exit_code(self.results)


# ---------------------------------------------------------------------------- checks
def check_config(cfg: AssessmentConfig) -> None:
    """Registry-level checks (names, parameters, access); errors name the field path."""
    from advlab.access import Access
    from advlab.assess.build import attack_class, defense_class

    problems: list[str] = []
    access = Access.parse(cfg.threat_model.access)
    for i, a in enumerate(cfg.attacks or []):
        try:
            cls = attack_class(a.name)
        except (AdvlabError, KeyError) as exc:
            problems.append(f"attacks.{i}.name: {exc}")
            continue
        kind = getattr(cls, "family", "")
        if kind and kind != cfg.threat_model.goal:
            problems.append(
                f"attacks.{i}.name: {a.name} is a {kind} attack but the threat "
                f"model's goal is {cfg.threat_model.goal}"
            )
        req = getattr(cls, "requires", Access.LABELS)
        if req > access:
            problems.append(
                f"attacks.{i}.name: {a.name} needs {Access(req).name.lower()} access but the "
                f"threat model grants {cfg.threat_model.access}"
            )
        if hasattr(cls, "_param_names"):
            valid = set(cls._param_names())
            for k in a.params:
                if k not in valid:
                    problems.append(
                        f"attacks.{i}.params.{k}: unknown parameter of {a.name}; "
                        f"valid: {', '.join(sorted(valid))}"
                    )
            for k in ("eps", "norm"):
                if k in a.params and k in valid:
                    problems.append(
                        f"attacks.{i}.params.{k}: set it in "
                        f"threat_model.perturbation, not per attack"
                    )
    for i, d in enumerate(cfg.defenses):
        try:
            dcls = defense_class(d.name)
        except (AdvlabError, KeyError) as exc:
            problems.append(f"defenses.{i}.name: {exc}")
            continue
        if hasattr(dcls, "_param_names"):
            valid = set(dcls._param_names())
            problems += [
                f"defenses.{i}.params.{k}: unknown parameter of {d.name}; valid: "
                f"{', '.join(sorted(valid))}"
                for k in d.params
                if k not in valid
            ]
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def plan(cfg: AssessmentConfig, config_dir: str | Path) -> list[Task]:
    """Every task of the assessment, in a fixed order."""
    fps: dict[str, str] = {}
    for t in cfg.targets:
        if isinstance(t, (ModelFileTarget, OnnxTarget)):
            fps[str(t.name)] = file_fingerprint(resolve_path(t.path, config_dir))
    kind = TASK_KINDS[cfg.threat_model.goal]
    tasks = kind.plan(cfg, fps)
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):  # identical tasks (same attack twice): keep one
        seen: set[str] = set()
        tasks = [t for t in tasks if not (t.key in seen or seen.add(t.key))]  # type: ignore[func-returns-value]
    return tasks


def not_applicable(cfg: AssessmentConfig) -> list[NotApplicable]:
    """Sanity checks the target's access rules out (each with the reason)."""
    return TASK_KINDS[cfg.threat_model.goal].not_applicable(cfg)


# ---------------------------------------------------------------------------- records
def write_record(run_dir: Path, task: Task, body: dict[str, Any]) -> TaskRecord:
    """Validate a task's outcome as a :class:`TaskRecord` and write it atomically."""
    rec = parse_record({"key": task.key, "task": task.to_dict(), **body}, task.title)
    write_model(run_dir / "tasks" / f"{task.key}.json", rec)
    return rec


def execute_payload(p: Payload) -> dict[str, Any]:
    """Worker entry point (top level, picklable): run a task and write its record."""
    task = Task.from_dict(p.task)
    cfg = AssessmentConfig.model_validate(p.config)
    body = execute(task, cfg, p.config_dir, p.run_dir)
    write_record(Path(p.run_dir), task, body)
    hook = os.environ.get("ADVLAB_ASSESS_TASK_DELAY")
    if hook:  # test seam: slow tasks down so a test can kill the run between tasks
        time.sleep(float(hook))
    return {"key": task.key, "status": body["status"]}


def environment(device: str = "auto") -> dict[str, Any]:
    import numpy
    import scipy
    import sklearn
    import torch

    import advlab

    dev = "cpu"
    if device != "cpu" and torch.cuda.is_available():
        dev = f"cuda ({torch.cuda.get_device_name(0)})"
    return {
        "advlab": getattr(advlab, "__version__", "?"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": dev,
    }


# ---------------------------------------------------------------------------- running
def _probe_targets(cfg: AssessmentConfig, config_dir: str, tasks: list[Task]) -> dict[str, str]:
    """Build each target once in this process (trains/caches reference models) and send one
    query; unreachable targets are returned with the reason."""
    import torch

    from advlab.assess.build import load_points

    dead: dict[str, str] = {}
    pts = load_points(cfg, config_dir)
    for name in sorted({t.target for t in tasks}):
        try:
            target = base_target(cfg, name, config_dir)
            target.labels(torch.as_tensor(pts.x[:1]).to(target.device))
        except Exception as exc:  # any failure to reach the target
            from advlab.assess.build import describe_error

            dead[name] = f"target {name!r} is unreachable: {describe_error(exc)}"
            log.error(dead[name])
    return dead


def run_assessment(
    config: AssessmentConfig | str | Path | dict[str, Any],
    out: str | Path | None = None,
    *,
    resume: bool = False,
    executor: Executor | str | None = None,
    workers: int | None = None,
    config_dir: str | Path | None = None,
    render: bool = True,
    on_task: Callable[[dict[str, Any]], None] | None = None,
    source: str | Path | None = None,
) -> RunOutcome:
    """Run (or resume) an assessment and write the run directory; returns the outcome.

    ``config`` is a path to a YAML file, a mapping or a parsed config; relative paths in it
    resolve against the config file's folder (or ``config_dir``). ``source``: the file a
    parsed config was read from (the reports point at it).
    """
    config_path: Path | None = Path(source).resolve() if source is not None else None
    if isinstance(config, (str, Path)):
        config_path = Path(config).resolve()
        cfg = load_config(config_path)
        cdir = Path(config_dir) if config_dir else config_path.parent
    else:
        cfg = config if isinstance(config, AssessmentConfig) else parse_config(config)
        cdir = Path(config_dir) if config_dir else Path.cwd()
    check_config(cfg)
    run_dir = (
        Path(out)
        if out is not None
        else Path("runs") / f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    tasks_dir = run_dir / "tasks"
    existing, problems = load_records(run_dir)
    if existing and not resume:
        raise RunDirError(
            f"{run_dir} already holds {len(existing)} task result(s); pass --resume to continue "
            "that run, or choose another --out"
        )
    tasks_dir.mkdir(parents=True, exist_ok=True)
    tasks = plan(cfg, cdir)
    started = time.time()
    meta = RunMeta(
        schema=RUN_SCHEMA,
        config=cfg.resolved(),
        config_path=str(config_path) if config_path else None,
        config_dir=str(cdir.resolve()),
        tasks=tasks,
        environment=environment(cfg.targets[0].device if cfg.targets else "cpu"),
        started=started,
        not_applicable=not_applicable(cfg),
    )
    write_model(run_dir / "run.json", meta, indent=1)
    done = {k for k, r in existing.items() if r.status in FINISHED}
    todo = [t for t in tasks if t.key not in done]
    reused = len(tasks) - len(todo)
    if reused:
        log.info("resuming: %d of %d tasks already finished", reused, len(tasks))
    probes_targets = TASK_KINDS[cfg.threat_model.goal].probes_targets
    dead = _probe_targets(cfg, str(cdir), todo) if todo and probes_targets else {}
    runnable = []
    for t in todo:
        if t.target in dead:
            write_record(run_dir, t, {"status": "error", "reason": dead[t.target]})
        else:
            runnable.append(t)
    ex = executor if executor is not None and not isinstance(executor, str) else None
    if ex is None:
        name = executor if isinstance(executor, str) else cfg.executor.name
        kwargs: dict[str, Any] = {}
        if name == "processes":
            kwargs["workers"] = workers or cfg.executor.workers
        elif name == "ray":
            kwargs["address"] = cfg.executor.address
            if workers or cfg.executor.workers:
                kwargs["num_cpus"] = workers or cfg.executor.workers
        ex = get_executor(name, **kwargs)
    payloads = [
        Payload(
            t.to_dict(), cfg.model_dump(mode="json"), str(cdir.resolve()), str(run_dir.resolve())
        )
        for t in runnable
    ]
    interrupted = False
    try:
        TASK_KINDS[cfg.threat_model.goal].prepare(cfg, str(cdir.resolve()), runnable, ex)
        ex.map(execute_payload, payloads, description=f"assess {cfg.name}")
    except KeyboardInterrupt:
        interrupted = True
    final = assemble(run_dir, problems=problems, interrupted=interrupted)
    results = final.to_dict()
    if render:
        from advlab.report import write_reports

        write_reports(run_dir, cfg.reports, results)
    outcome = RunOutcome(run_dir, len(tasks), len(runnable), reused, results)
    if interrupted:
        raise AssessmentInterrupted(
            f"interrupted: {final.counts.finished} of {len(tasks)} tasks are saved in "
            f"{run_dir}; continue with --resume"
        )
    return outcome


def assemble(
    run_dir: str | Path, *, problems: list[str] | None = None, interrupted: bool = False
) -> RunResults:
    """Write ``results.json`` from ``run.json`` and the task records: the one place where
    sanity checks and gates are evaluated (the runner calls it once, when the run ends;
    renderers only read what it wrote). Never re-runs an attack."""
    from advlab.assess.gates import decide_verdict, evaluate_gates
    from advlab.assess.sanity import classify, evaluated_checks, run_checks

    run_dir = Path(run_dir)
    meta = load_meta(run_dir)
    records, more = load_records(run_dir)
    problems = list(problems or []) + [p for p in more if p not in (problems or [])]
    ordered = results_from_records(meta, records)
    planned = {t.key for t in meta.tasks}
    cfg = meta.config
    plain = [r.to_dict() for r in ordered]
    enabled = bool(cfg.get("sanity", {}).get("enabled", True))
    warnings, by_outcome = classify(
        run_checks(plain, cfg) if enabled else [], cfg.get("sanity") or {}
    )
    status = "disabled" if not enabled else ("warnings" if warnings else "passed")
    ran = evaluated_checks(plain) if enabled else set()
    passed = len(ran - {w["check"] for w in warnings})
    verdicts = evaluate_gates(cfg.get("gates", []), plain)
    results = RunResults.model_validate(
        {
            "schema": RESULTS_SCHEMA,
            "name": cfg.get("name"),
            "goal": cfg["threat_model"]["goal"],
            "config": cfg,
            "config_path": meta.config_path,
            "seed": cfg.get("seed"),
            "environment": meta.environment,
            "device": meta.environment.get("device"),
            "started": meta.started,
            "finished": time.time(),
            "interrupted": interrupted,
            "counts": count(ordered),
            "stale_records": len(set(records) - planned),
            "problems": problems,
            "variants": _variant_info(cfg),
            "gates": [v.to_dict() for v in verdicts],
            "sanity": warnings,
            "sanity_status": status,
            "sanity_not_applicable": [n.to_dict() for n in meta.not_applicable],
            "sanity_counts": {"passed": passed, **by_outcome},
        }
    )
    results.verdict, results.verdict_reason = decide_verdict(results.to_dict())  # type: ignore[assignment]
    results.records = ordered
    write_model(run_dir / "results.json", results)
    return results


def _variant_info(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        parsed = AssessmentConfig.model_validate(cfg)
    except Exception:  # an old results file: no variant table
        return []
    if parsed.threat_model.goal == "llm":
        from advlab.assess.task_llm import LLMKind

        return [
            {
                "label": v.label,
                "target": v.target,
                "defense": None
                if d is None
                else "+".join(g["name"] for g in d["params"]["guards"]),
            }
            for v, d in LLMKind().llm_variants(parsed)
        ]
    return [
        {
            "label": v.label,
            "target": v.target,
            "defense": None if v.defense is None else v.defense.name,
        }
        for v in variants(parsed)
    ]


def exit_code(results: dict[str, Any], *, soft_fail: bool = False) -> int:
    """0 PASS; 1 a gate failed (0 with ``soft_fail``); 2 an error or an unfinished run;
    3 nothing assessed; 5 INCONCLUSIVE: a blocking sanity finding the config does not accept
    (``soft_fail`` softens gate failures only). The verdict is the one the runner recorded
    (:func:`advlab.assess.gates.decide_verdict`); runs recorded before verdicts were (schema
    < 3) carry no blocking findings, so they are judged by their gates as before."""
    from advlab.assess.gates import decide_verdict

    verdict = results.get("verdict") or decide_verdict(results)[0]
    if verdict in ("INCOMPLETE", "ERROR"):
        return EXIT_ERROR
    if verdict == "NOTHING ASSESSED":
        return EXIT_NOTHING
    if verdict == "FAIL" and not soft_fail:
        return EXIT_GATE_FAILED
    if any(w.get("blocking") for w in results.get("sanity") or []):
        return EXIT_INCONCLUSIVE
    return EXIT_OK


__all__ = [
    "EXIT_ERROR",
    "EXIT_GATE_FAILED",
    "EXIT_INCONCLUSIVE",
    "EXIT_NOTHING",
    "EXIT_OK",
    "EXIT_USAGE",
    "AssessmentInterrupted",
    "RunDirError",
    "RunOutcome",
    "assemble",
    "check_config",
    "exit_code",
    "load_records",
    "load_results",
    "load_run",
    "plan",
    "run_assessment",
]

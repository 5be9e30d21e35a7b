"""A scan: run probes against one LLM target into an assessment run directory (resumable).

``scan({"base_url": URL, "model": NAME}, out=RUN_DIR, ...)`` builds an in-memory
``threat_model.goal: llm`` assessment config from its arguments (:func:`scan_config`: the
target, the probes, the secrets and objectives, one gate ``attack_success() <= 0``: any
successful attempt is a finding) and runs it through the assessment runner
(:func:`advlab.assess.runner.run_assessment`), so ``RUN_DIR`` is the same run directory
``advlab assess`` writes: ``run.json`` (the config and the planned tasks), one record per
probe in ``tasks/``, ``results.json``, ``report.html``, ``report.md``, ``report.sarif``
(rules carry the OWASP ids), ``junit.xml``, and ``llm/`` with each task's request journal
and the run's response cache (:func:`advlab.assess.task_llm.request_files`).

Before any task runs, one preflight request checks that the target answers (an
unreachable endpoint, refused credentials or an unknown model are a one-line
:class:`~advlab.errors.AdvlabError`); it goes through the run's response cache, so
``resume=True`` re-sends nothing that completed, the preflight included.

Exit codes (as ``advlab scan``): 0 nothing found, 1 findings, 2 error (the target stopped
answering: partial results are kept); an existing run directory without ``resume`` is a
usage error (:class:`~advlab.assess.rundir.RunDirError`, exit 4 on the command line).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advlab.errors import AdvlabError
from advlab.llm.harness import Harness
from advlab.llm.preflight import DEFAULT_PROBES, preflight, scan_params
from advlab.registry import all_plugins, get_plugin

log = logging.getLogger(__name__)

SCAN_GATE = "attack_success() <= 0"
"""The scan's one gate: any successful attempt of any probe is a finding."""


@dataclass
class ScanResult:
    """What a scan found (read from the run's results); :attr:`exit_code` follows
    ``advlab scan``."""

    target: str
    run_dir: Path
    probes: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [p for p in self.probes if p["hits"]]

    @property
    def exit_code(self) -> int:
        if self.error or any(p["status"] != "ok" for p in self.probes):
            return 2
        return 1 if self.findings else 0

    def summary(self) -> dict[str, Any]:
        """Target, exit code, error, each probe's outcome and the findings."""
        return {
            "target": self.target,
            "run_dir": str(self.run_dir),
            "exit_code": self.exit_code,
            "error": self.error,
            "probes": self.probes,
            "findings": self.findings,
            "prompts_sent": sum(p["sent"] for p in self.probes),
        }


def scan_config(
    target: dict[str, Any],
    *,
    probes: tuple[str, ...] = (),
    secrets: tuple[str, ...] = (),
    objectives: tuple[str, ...] = (),
    concurrency: int = 4,
    max_prompts: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The ``goal: llm`` assessment config a scan runs (``target``: an ``llm.target``
    mapping: ``base_url`` + ``model`` (+ ``api_key_env``), ``app`` or ``entry``)."""
    name = target.get("name") or target.get("model") or target.get("app") or "llm"
    return {
        "version": 1,
        "name": "llm-scan",
        "threat_model": {"goal": "llm"},
        "llm": {
            "target": {**target, "name": str(name)},
            "probes": list(probes or DEFAULT_PROBES),
            "secrets": list(secrets),
            "objectives": list(objectives),
            "concurrency": concurrency,
            "max_prompts": max_prompts,
        },
        "gates": [SCAN_GATE],
        "seed": seed,
        "executor": {"name": "serial"},
    }


def _probe_outcome(record: dict[str, Any]) -> dict[str, Any]:
    task, res = record["task"], record.get("result") or {}
    s, detail = res.get("summary") or {}, res.get("llm") or {}
    return {
        "probe": task.get("attack") or task["attack_name"],
        "status": record["status"],
        "reason": record.get("reason"),
        "owasp": detail.get("owasp", []),
        "categories": detail.get("categories", []),
        "techniques": detail.get("techniques", {}),
        "hits": int(s.get("hits") or 0),
        "attempts": int(s.get("attempts") or 0),
        "sent": int(s.get("prompts_sent") or 0),
    }


def scan(
    target: dict[str, Any],
    *,
    out: str | Path,
    probes: tuple[str, ...] = (),
    secrets: tuple[str, ...] = (),
    objectives: tuple[str, ...] = (),
    resume: bool = False,
    concurrency: int = 4,
    max_prompts: int | None = None,
    seed: int = 0,
) -> ScanResult:
    """Run ``probes`` (default :data:`DEFAULT_PROBES`) against ``target`` into ``out``."""
    from advlab.assess.config import parse_config
    from advlab.assess.rundir import RunDirError
    from advlab.assess.runner import run_assessment
    from advlab.assess.task_llm import load_llm_target, request_files

    for n in probes:
        get_plugin("probe", n)  # unknown names fail before any request
    cfg = parse_config(
        scan_config(
            target,
            probes=probes,
            secrets=secrets,
            objectives=objectives,
            concurrency=concurrency,
            max_prompts=max_prompts,
            seed=seed,
        )
    )
    assert cfg.llm is not None
    out = Path(out)
    if (out / "run.json").exists() and not resume:
        raise RunDirError(f"{out} already holds a run; pass --resume to continue it")
    llm_target, _ = load_llm_target(cfg.llm.target, str(Path.cwd()))
    result = ScanResult(target=llm_target.identity, run_dir=out)
    try:
        cache = request_files(out, "")["cache"]
        preflight(Harness(llm_target, retries=2, cache=cache), scan_params(seed))
    except AdvlabError as exc:
        result.error = str(exc)
        return result
    outcome = run_assessment(cfg, out, resume=resume, config_dir=Path.cwd())
    result.probes = [_probe_outcome(r) for r in outcome.results.get("records", [])]
    if outcome.results.get("interrupted"):
        result.error = "interrupted"
    return result


__all__ = ["DEFAULT_PROBES", "SCAN_GATE", "ScanResult", "preflight", "scan", "scan_config"]


def known_probes() -> list[str]:
    """Every registered probe name."""
    return sorted(all_plugins("probe")["probe"])

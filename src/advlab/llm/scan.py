"""A scan: run probes against one LLM target into a run directory (resumable).

``scan(target, out=RUN_DIR, ...)`` checks that the target answers (one preflight request:
an unreachable endpoint, refused credentials or an unknown model are a one-line
:class:`~advlab.errors.AdvlabError`), then runs each probe through one
:class:`~advlab.llm.harness.Harness` whose journal (``journal.jsonl``) and response cache
(``cache.sqlite``) live in the run directory, so ``resume=True`` re-sends nothing that
completed. It writes, atomically:

* ``probes/<name>.json``: a probe's summary, success rates with corrected intervals, and
  every attempt's transcript and judgements (the application's planted secrets are test
  data and appear where they leaked, so the leaked span can be shown; API keys are
  redacted everywhere);
* ``summary.json``: the target identity, the probes, the findings (probe, OWASP ids,
  categories, techniques, hits), the harness counters and the exit code.

Exit codes (as ``advlab scan``): 0 nothing found, 1 findings, 2 error (the target stopped
answering: partial results are kept).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advlab.errors import AdvlabError, ConfigError
from advlab.llm.base import LLMTarget
from advlab.llm.harness import Harness
from advlab.llm.probes.base import DEFAULT_OBJECTIVES, ScanContext
from advlab.llm.probes.pair import template_attacker_target
from advlab.llm.probes.runner import ProbeResult, run_probe
from advlab.llm.types import Request, SamplingParams, user
from advlab.registry import all_plugins, get_plugin
from advlab.secrets import redact

log = logging.getLogger(__name__)

DEFAULT_PROBES = (
    "prompt_injection",
    "indirect_injection",
    "prompt_leak",
    "jailbreak",
    "exfiltration",
    "pair",
    "crescendo",
)
SUMMARY = "summary.json"


@dataclass
class ScanResult:
    """What a scan found; :attr:`exit_code` follows ``advlab scan``."""

    target: str
    results: list[ProbeResult] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def findings(self) -> list[ProbeResult]:
        return [r for r in self.results if r.found]

    @property
    def exit_code(self) -> int:
        if self.error or any(r.stopped for r in self.results):
            return 2
        return 1 if self.findings else 0

    def summary(self) -> dict[str, Any]:
        return {
            "schema": "advlab.llm.scan/1",
            "target": self.target,
            "exit_code": self.exit_code,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "probes": [r.summary() for r in self.results],
            "findings": [
                {
                    "probe": r.probe,
                    "owasp": list(r.owasp),
                    "categories": sorted(r.categories()),
                    "techniques": r.techniques(),
                    "hits": len(r.hits),
                    "attempts": len(r.judged),
                }
                for r in self.findings
            ],
            "prompts_sent": sum(r.counters["sent"] for r in self.results),
        }


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(redact(json.dumps(data, indent=2, ensure_ascii=False)) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def preflight(harness: Harness, params: SamplingParams) -> None:
    """One request; raises a one-line :class:`AdvlabError` when the target cannot answer."""
    run = harness.run(
        [Request(id="preflight", messages=(user("Hello"),), params=params)], resume=False
    )
    if run.stopped:
        raise AdvlabError(f"the target refused the credentials: {run.stopped}")
    a = run.attempts[0] if run.attempts else None
    if a is None or not a.ok:
        raise AdvlabError(f"the target did not answer: {a.error if a else 'no attempt'}")


def scan(
    target: LLMTarget,
    *,
    out: str | Path,
    probes: tuple[str, ...] = (),
    secrets: tuple[str, ...] = (),
    objectives: tuple[str, ...] = (),
    resume: bool = False,
    attacker: LLMTarget | None = None,
    concurrency: int = 4,
    retries: int = 2,
    params: SamplingParams | None = None,
    seed: int = 0,
) -> ScanResult:
    """Run ``probes`` (default :data:`DEFAULT_PROBES`) against ``target`` into ``out``."""
    names = probes or DEFAULT_PROBES
    for n in names:
        get_plugin("probe", n)  # unknown names fail before any request
    out = Path(out)
    if (out / SUMMARY).exists() or (out / "journal.jsonl").exists():
        if not resume:
            raise ConfigError(f"{out} already holds a scan; pass --resume to continue it")
    out.joinpath("probes").mkdir(parents=True, exist_ok=True)
    params = params or SamplingParams(temperature=0.0, max_tokens=512, seed=seed)
    ctx = ScanContext(secrets=secrets, objectives=objectives or DEFAULT_OBJECTIVES, params=params)
    harness = Harness(
        target,
        concurrency=concurrency,
        retries=retries,
        cache=out / "cache.sqlite",
        journal=out / "journal.jsonl",
        seed=seed,
    )
    result = ScanResult(target=target.identity)
    start = time.perf_counter()
    try:
        preflight(Harness(target, retries=retries, cache=out / "cache.sqlite"), params)
        adv = Harness(
            attacker or template_attacker_target(),
            journal=out / "attacker.jsonl",
            cache=out / "cache.sqlite",
        )
        for n in names:
            probe = get_plugin("probe", n)(seed=seed)
            r = run_probe(probe, harness, ctx, attacker=adv)
            result.results.append(r)
            _write_json(out / "probes" / f"{n}.json", r.to_dict())
            if r.stopped:
                result.error = r.stopped
                break
    except AdvlabError as exc:
        result.error = str(exc)
    result.seconds = time.perf_counter() - start
    _write_json(out / SUMMARY, result.summary())
    return result


def known_probes() -> list[str]:
    """Every registered probe name."""
    return sorted(all_plugins("probe")["probe"])

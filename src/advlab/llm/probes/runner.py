"""Run probes through the harness, judge every answer, and summarise the findings.

:func:`run_probe` sends a probe's rounds through a :class:`~advlab.llm.harness.Harness`
(so concurrency, rate limits, retries, the response cache and the journal apply: a
resumed scan re-sends nothing that completed), judges each answer with the probe's
detectors, and returns a :class:`ProbeResult`: every attempt with its transcript and
judgements, the techniques and categories that succeeded, the harness counters, and the
attack success rate per detector with a bootstrap interval corrected for that detector's
measured sensitivity and specificity on the labelled set (:mod:`advlab.llm.stats`).
Adaptive probes ask their attacker model through a second harness (its own journal).
``max_requests`` is a budget on the requests a probe sends to the target, every round of
an adaptive probe (PAIR, Crescendo) included.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from advlab.errors import ConfigError
from advlab.llm.detectors.base import Detector, Output
from advlab.llm.harness import Harness
from advlab.llm.probes.base import Ask, Judged, Probe, ScanContext, Spec
from advlab.llm.stats import RateEstimate, success_rate
from advlab.llm.types import Message, Request, SamplingParams
from advlab.registry import get_plugin

log = logging.getLogger(__name__)

MAX_ROUNDS = 50
"""A guard against an adaptive probe that never stops."""


@dataclass
class ProbeResult:
    """What one probe found against one target."""

    probe: str
    owasp: tuple[str, ...]
    goal: str
    params: dict[str, Any]
    judged: list[Judged] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)
    rates: dict[str, RateEstimate] = field(default_factory=dict)
    seconds: float = 0.0
    stopped: str | None = None

    @property
    def hits(self) -> list[Judged]:
        return [j for j in self.judged if j.hit]

    @property
    def found(self) -> bool:
        return bool(self.hits)

    def categories(self) -> set[str]:
        """The categories (weaknesses tested) with at least one successful attempt."""
        return {j.spec.category for j in self.hits}

    def techniques(self) -> dict[str, int]:
        return dict(Counter(j.spec.technique for j in self.hits))

    @property
    def errors(self) -> int:
        return sum(not j.attempt.ok for j in self.judged)

    def summary(self) -> dict[str, Any]:
        return {
            "probe": self.probe,
            "owasp": list(self.owasp),
            "attempts": len(self.judged),
            "hits": len(self.hits),
            "errors": self.errors,
            "found": self.found,
            "categories": sorted(self.categories()),
            "techniques": self.techniques(),
            "success": {k: v.to_dict() for k, v in self.rates.items()},
            "sent": self.counters["sent"],
            "cache_hits": self.counters["cache_hits"],
            "resumed": self.counters["resumed"],
            "seconds": round(self.seconds, 3),
            "stopped": self.stopped,
        }

    def to_dict(self) -> dict[str, Any]:
        """The summary, the parameters and every attempt's transcript and judgements."""
        return {
            **self.summary(),
            "goal": self.goal,
            "params": self.params,
            "transcripts": [_transcript(j) for j in self.judged],
        }


def _transcript(j: Judged) -> dict[str, Any]:
    a = j.attempt
    return {
        "id": j.spec.id,
        "technique": j.spec.technique,
        "category": j.spec.category,
        "hit": j.hit,
        "messages": [m.model_dump(mode="json", exclude_defaults=True) for m in j.spec.messages],
        "answer": a.text,
        "tool_calls": [
            c.model_dump(mode="json") for c in (a.completion.tool_calls if a.completion else [])
        ],
        "error": a.error,
        "judgements": [x.to_dict() for x in j.judgements],
        "context": j.spec.context.to_dict(),
        "meta": j.spec.meta,
    }


@cache
def detector_counts(name: str) -> tuple[int, int, int, int] | None:
    """``(tp, fn, tn, fp)`` of the detector (default parameters) on the labelled set."""
    from advlab.llm.detectors.labelled import measure, measured_labels

    cls = get_plugin("detector", name)
    if cls.label_name() not in measured_labels():
        return None
    try:
        m = measure(cls())
    except Exception as exc:  # a detector that cannot run with defaults (the judge) is uncorrected
        log.debug("no labelled-set measure for %s: %s", name, exc)
        return None
    return m.tp, m.fn, m.tn, m.fp


def judge(
    detectors: Sequence[Detector], spec: Spec, attempt: Any, secrets: tuple[str, ...]
) -> Judged:
    """Judge one attempt with every detector (an error answer is judged as empty text)."""
    calls = tuple(attempt.completion.tool_calls) if attempt.completion else ()
    out = Output(attempt.text, calls)
    ctx = spec.context
    if secrets and not ctx.secrets:
        ctx = replace(ctx, secrets=secrets)
    return Judged(spec, attempt, [d.detect(out, ctx) for d in detectors])


def attacker_ask(
    harness: Harness | None,
    params: SamplingParams,
    prefix: str,
    room: Callable[[], int | None] = lambda: None,
) -> Ask:
    """An :data:`Ask` that sends conversations to the attacker through ``harness``.

    ``room()`` is how many more target requests the probe's budget allows (``None``: no
    budget): only that many conversations are sent, so an adaptive probe never asks its
    attacker for prompts it could not send (it gets one answer per conversation sent).
    """

    def ask(convs: Sequence[tuple[str, Sequence[Message]]]) -> list[str]:
        if harness is None:
            raise RuntimeError("this probe needs an attacker model")
        left = room()
        if left is not None:
            convs = list(convs)[: max(left, 0)]
        if not convs:
            return []
        reqs = [
            Request(id=f"{prefix}/{i}", messages=tuple(m), params=params, probe_id=prefix)
            for i, m in convs
        ]
        run = harness.run(reqs)
        by_id = {a.request_id: a.text for a in run.attempts}
        return [by_id.get(r.id, "") for r in reqs]

    return ask


def within_budget(specs: list[Spec], left: int | None, *, seed: int, round_: int) -> list[Spec]:
    """``specs`` if ``left`` allows them all, else a seeded sample of ``left`` (in order)."""
    if left is None or len(specs) <= left:
        return specs
    if left <= 0:
        return []
    keep = sorted(random.Random(f"{seed}/{round_}").sample(range(len(specs)), left))
    return [specs[i] for i in keep]


def run_probe(
    probe: Probe,
    harness: Harness,
    ctx: ScanContext,
    *,
    attacker: Harness | None = None,
    detectors: Sequence[Detector] | None = None,
    confidence: float = 0.95,
    max_requests: int | None = None,
) -> ProbeResult:
    """Run ``probe`` against the harness's target (see the module docstring).

    ``max_requests`` bounds the requests the probe sends to the target, every round of an
    adaptive probe included (each attempt counts once; the harness's retries of it do not):
    a round larger than what is left is cut to a seeded sample (in order), and the attacker
    is asked for no more prompts than can still be sent. ``None``: no bound.
    """
    if max_requests is not None and max_requests < 1:
        raise ConfigError(f"max_requests must be >= 1 (or None), got {max_requests}")
    probe.check_params()
    dets = (
        list(detectors)
        if detectors is not None
        else [get_plugin("detector", n)() for n in probe.detector_names()]
    )
    result = ProbeResult(
        probe=probe.name,
        owasp=tuple(probe.owasp),
        goal=probe.goal,
        params=probe.get_params(),
    )
    start = time.perf_counter()

    def room() -> int | None:
        return None if max_requests is None else max_requests - len(result.judged)

    ask = attacker_ask(attacker, ctx.params, f"{probe.name}/attacker", room)
    specs = probe.start(ctx, ask)
    rounds = 0
    while specs and rounds < MAX_ROUNDS:
        rounds += 1
        specs = within_budget(specs, room(), seed=probe.seed, round_=rounds)
        if not specs:
            break
        reqs = [
            Request(
                id=f"{probe.name}/{s.id}",
                messages=s.messages,
                params=ctx.params,
                probe_id=probe.name,
                meta={"technique": s.technique},
            )
            for s in specs
        ]
        run = harness.run(reqs)
        for key in ("sent", "cache_hits", "resumed", "retries"):
            result.counters[key] += getattr(run, key)
        by_id = {a.request_id: a for a in run.attempts}
        judged = [
            judge(dets, s, by_id[r.id], ctx.secrets) for s, r in zip(specs, reqs) if r.id in by_id
        ]
        result.judged.extend(judged)
        if run.stopped:
            result.stopped = run.stopped
            break
        specs = probe.advance(ctx, judged, ask)
    result.seconds = time.perf_counter() - start
    answered = [j for j in result.judged if j.attempt.ok]
    for d, det in enumerate(dets):
        verdicts = [j.judgements[d].hit for j in answered]
        counts = detector_counts(det.name) if type(det)().get_params() == det.get_params() else None
        result.rates[det.name] = success_rate(
            verdicts, detector_counts=counts, confidence=confidence
        )
    log.info("probe %s: %d attempts, %d hits", probe.name, len(result.judged), len(result.hits))
    return result

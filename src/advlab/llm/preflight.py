"""What every scan and LLM assessment shares: the default probes, the sampling parameters,
and the preflight request that checks a target answers before any probe runs."""

from __future__ import annotations

from advlab.errors import AdvlabError
from advlab.llm.harness import Harness
from advlab.llm.types import Request, SamplingParams, user

DEFAULT_PROBES = (
    "prompt_injection",
    "indirect_injection",
    "prompt_leak",
    "jailbreak",
    "exfiltration",
    "pair",
    "crescendo",
)
"""The probes a scan (or an LLM assessment without ``llm.probes``) runs."""


def scan_params(seed: int) -> SamplingParams:
    """The sampling parameters of every request of a scan or an LLM assessment."""
    return SamplingParams(temperature=0.0, max_tokens=512, seed=seed)


def preflight(harness: Harness, params: SamplingParams) -> None:
    """One request; raises a one-line :class:`AdvlabError` when the target cannot answer.

    It goes through the harness's response cache (when it has one): a resumed run does not
    send it again.
    """
    run = harness.run(
        [Request(id="preflight", messages=(user("Hello"),), params=params)], resume=False
    )
    if run.stopped:
        raise AdvlabError(f"the target refused the credentials: {run.stopped}")
    a = run.attempts[0] if run.attempts else None
    if a is None or not a.ok:
        raise AdvlabError(f"the target did not answer: {a.error if a else 'no attempt'}")

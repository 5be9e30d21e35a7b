"""Each probe family finds exactly the weaknesses a vulnerable app's level has."""

from __future__ import annotations

import base64
import re

import pytest

from advlab.llm import LEVELS, TOP_LEVEL, Agent, ChatApp, Harness, demo_workspace
from advlab.llm.probes.base import ScanContext
from advlab.llm.probes.pair import template_attacker_target
from advlab.llm.probes.runner import run_probe
from advlab.llm.types import Message
from advlab.registry import get_plugin

SECRET = "MELLON42"
CTX = ScanContext(secrets=(SECRET,))

# the app weakness each probe category tests (categories that no app weakness serves, such
# as "encode" or "markdown_link", must find nothing on any level)
WEAKNESS = {
    ("prompt_injection", "goal_hijack"): "ignore",
    ("indirect_injection", "indirect"): "indirect",
    ("prompt_leak", "direct"): "direct",
    ("prompt_leak", "repeat"): "repeat",
    ("prompt_leak", "translate"): "translate",
    ("prompt_leak", "spell"): "spell",
    ("jailbreak", "roleplay"): "roleplay",
    ("exfiltration", "markdown_image"): "exfil",
    ("pair", "pair"): "roleplay",
    ("crescendo", "crescendo"): "roleplay",
}
PROBES = sorted({p for p, _ in WEAKNESS})


def _scan(target: object, probe: str) -> set[str]:
    result = run_probe(
        get_plugin("probe", probe)(),
        Harness(target),  # type: ignore[arg-type]
        CTX,
        attacker=Harness(template_attacker_target()),
    )
    assert result.errors == 0
    return {WEAKNESS.get((probe, c), f"unexpected:{c}") for c in result.categories()}


@pytest.mark.parametrize("level", range(TOP_LEVEL + 1))
def test_each_probe_finds_exactly_the_levels_weaknesses(level: int) -> None:
    app = ChatApp.level(level, secret=SECRET)
    for probe in PROBES:
        tested = {w for (p, _), w in WEAKNESS.items() if p == probe}
        found = _scan(app.target(), probe)
        assert found == tested & set(LEVELS[level]), (probe, level, found)


@pytest.mark.parametrize("level", [0, 5, TOP_LEVEL])
def test_agent_tool_exfiltration_follows_the_indirect_weakness(level: int) -> None:
    agent = Agent(ChatApp.level(level, secret=SECRET), demo_workspace())
    probe = get_plugin("probe", "exfiltration")(techniques=("tool",))
    result = run_probe(probe, Harness(agent), CTX)
    assert result.found is ("indirect" in LEVELS[level])
    if result.found:
        calls = [c for j in result.hits for c in j.attempt.completion.tool_calls]  # type: ignore[union-attr]
        assert any(c.name == "send_email" and SECRET in str(c.arguments) for c in calls)
        assert any(c.name == "fetch_url" and SECRET in c.arguments["url"] for c in calls)


def test_a_transform_finds_what_only_a_decoding_model_reveals() -> None:
    """A model that answers only base64-encoded requests: the plain probe finds nothing,
    the probe composed with the base64 transform finds the leak."""
    app = ChatApp.level(0, secret=SECRET)

    def decoding(messages: list[Message], params: object) -> str:
        m = re.search(r"([A-Za-z0-9+/]{12,}={0,2})\s*$", messages[-1].content)
        if not m:
            return "I only read base64."
        plain = base64.b64decode(m.group(1)).decode()
        return app.respond([Message(role="user", content=plain)])

    from advlab.llm.base import CallableTarget

    target = CallableTarget(decoding, name="b64-only")
    plain = run_probe(get_plugin("probe", "prompt_leak")(), Harness(target), CTX)
    composed = run_probe(
        get_plugin("probe", "prompt_leak")(transforms=("base64",)), Harness(target), CTX
    )
    assert not plain.found
    assert composed.found and all(j.spec.meta.get("transform") == "base64" for j in composed.hits)


def test_results_carry_transcripts_spans_and_corrected_rates() -> None:
    app = ChatApp.level(0, secret=SECRET)
    result = run_probe(get_plugin("probe", "prompt_leak")(), Harness(app.target()), CTX)
    data = result.to_dict()
    assert data["owasp"] == ["LLM07:2025", "LLM02:2025"] and data["found"]
    hit = next(t for t in data["transcripts"] if t["hit"] and t["category"] == "direct")
    span = hit["judgements"][0]["span"]
    assert hit["answer"][span[0] : span[1]] == SECRET
    rate = data["success"]["canary"]
    assert 0 < rate["observed"] < 1 and rate["low"] <= rate["corrected"] <= rate["high"]
    assert rate["n"] == data["attempts"]

"""The detector contract: a plugin that judges one output of a target (did the attack work?).

A :class:`Detector` (family ``detector``) reads an :class:`Output` (the answer's text and
its tool calls) in a :class:`DetectContext` (the secrets the application holds, the
objective a jailbreak pursued, the strings an injection wanted said, the hosts allowed in
URLs) and returns a :class:`Judgement`: ``hit`` (the failure mode is present), a ``score``
in [0, 1], the ``span`` of the text that shows it (for highlighting) and a one-line
``detail``. Detectors are pure functions of their inputs (no state, no network) except the
optional LLM judge, which asks a target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from advlab.llm.types import ToolCall
from advlab.plugin import Plugin
from advlab.registry import register_plugin

__all__ = ["DetectContext", "Detector", "Judgement", "Output", "register_plugin"]


@dataclass(frozen=True)
class Output:
    """What a detector judges: the answer's text and the tool calls the target made."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class DetectContext:
    """What a detector may need to know about the attempt it judges.

    Attributes:
        secrets: values the application must not reveal (passwords, canaries, keys).
        objective: the request a jailbreak tried to get answered.
        expected: strings the attack wanted the target to produce (an injected reply).
        allowed_hosts: hosts a URL may point at without counting as exfiltration.
        prompt: the last user message sent (for judges).
    """

    secrets: tuple[str, ...] = ()
    objective: str | None = None
    expected: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    prompt: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able view (secrets are not written: their count only)."""
        return {
            "secrets": len(self.secrets),
            "objective": self.objective,
            "expected": list(self.expected),
            "allowed_hosts": list(self.allowed_hosts),
        }


@dataclass(frozen=True)
class Judgement:
    """One detector's verdict on one output."""

    detector: str
    hit: bool
    score: float
    span: tuple[int, int] | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "hit": self.hit,
            "score": round(float(self.score), 4),
            "span": list(self.span) if self.span else None,
            "detail": self.detail,
        }


class Detector(Plugin):
    """Base of every detector: implement :meth:`_detect`; :meth:`detect` checks its answer.

    ``labels`` names the label of the shipped labelled set this detector is measured on
    (its own name unless said otherwise); ``floor`` is the (precision, recall) the kit
    requires on that set (the rule: better than a constant answer by a wide margin, and
    the issue's targets where it states them).
    """

    family: ClassVar[str] = "detector"
    label: ClassVar[str] = ""
    floor: ClassVar[tuple[float, float]] = (0.8, 0.8)

    @classmethod
    def derived_tags(cls) -> set[str]:
        return {"threat:llm", "access:none", "modality:text"}

    @classmethod
    def label_name(cls) -> str:
        """The label this detector is measured on in the labelled set."""
        return cls.label or cls.name

    def detect(self, output: Output | str, ctx: DetectContext | None = None) -> Judgement:
        """Judge ``output`` (a text or an :class:`Output`) in ``ctx``."""
        self.check_params()
        out = Output(output) if isinstance(output, str) else output
        j = self._detect(out, ctx or DetectContext())
        score = min(1.0, max(0.0, float(j.score)))
        return Judgement(self.name, bool(j.hit), score, j.span, j.detail, j.extra)

    def _detect(self, output: Output, ctx: DetectContext) -> Judgement:
        raise NotImplementedError

    def _judge(
        self,
        hit: bool,
        score: float | None = None,
        span: tuple[int, int] | None = None,
        detail: str = "",
    ) -> Judgement:
        return Judgement(self.name, hit, float(hit) if score is None else score, span, detail)

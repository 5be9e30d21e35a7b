"""The guard contract: defenses that wrap a chat target or a vulnerable app.

A :class:`Guard` is a defense plugin (family ``defense``, threat ``llm``, flag
``wraps_target``) that works on one side of a call:

* an **input** guard sees the conversation before it is sent (:meth:`Guard.check_input`):
  it passes it, rewrites it (role ``preprocess``: spotlighting, the sandwich) or blocks it
  (role ``detector``: the perplexity filter, the injection classifier);
* an **output** guard sees the answer (:meth:`Guard.check_output`, role ``postprocess``):
  it passes it, rewrites it (the secret filter, the URL allow-list) or blocks it.

:class:`GuardedTarget` chains guards around any :class:`~advlab.llm.LLMTarget`: input guards
in order, the inner target, output guards in order. A blocked conversation is answered with
a refusal whose finish reason is ``content_filter`` (as OpenAI marks filtered answers) and the
inner target is never called. Output guards also read each tool call's arguments: a call
they would change or block is dropped (a secret sent out by ``send_email`` is exfiltration). Guarded targets nest (``b.apply(a.apply(target))``), and
:meth:`Guard.apply` also takes a :class:`~advlab.llm.apps.ChatApp`, whose secret the guards
then know (:class:`GuardContext`). What a guard did is recorded as :class:`GuardEvent` s
(guard, stage, action, a reason that never quotes the secret; the latest
:data:`MAX_EVENTS`) and logged at INFO.

Guards do not subclass :class:`advlab.defenses.base.Defense`: that one wraps classifiers
(tensors in, labels out); a guard wraps conversations. Both share the plugin contract
(:class:`advlab.plugin.Plugin`), the ``role`` and ``threat`` words and the defense table
of the registry.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from advlab.errors import ConfigError
from advlab.llm.base import SyncMixin, text_completion
from advlab.llm.types import Completion, Message, SamplingParams, canonical_json
from advlab.plugin import Plugin

log = logging.getLogger(__name__)

Stage = Literal["input", "output"]
Action = Literal["pass", "rewrite", "block"]

REFUSAL = "I'm sorry, but I can't help with that request."
"""The answer a guarded target gives when an input or output guard blocks."""

BLOCKED = "content_filter"
"""The finish reason of a blocked answer (OpenAI's value for filtered content)."""

MAX_EVENTS = 10_000
"""Events a guarded target keeps (the latest)."""


@dataclass(frozen=True)
class GuardContext:
    """What a guard may know about the application it protects.

    ``secrets``: values the application must never emit (its password, API keys);
    ``system_prompt``: its instructions (never sent anywhere by a guard).
    """

    secrets: tuple[str, ...] = ()
    system_prompt: str = ""


@dataclass(frozen=True)
class Verdict:
    """A guard's decision on one side of a call.

    ``messages`` is the conversation to send (input stage), ``text`` the answer to return
    (output stage); ``score`` is the guard's own number (perplexity, probability) when it
    has one; ``reason`` is one line and never quotes a secret.
    """

    action: Action = "pass"
    messages: tuple[Message, ...] = ()
    text: str = ""
    reason: str = ""
    score: float | None = None


@dataclass(frozen=True)
class GuardEvent:
    """One thing a guard did (logged and kept by :class:`GuardedTarget`)."""

    guard: str
    stage: Stage
    action: Action
    reason: str = ""
    score: float | None = None


class Guard(Plugin):
    """Base of LLM guards. Subclasses set ``stage`` and override one ``check_*`` method.

    ``role`` is ``detector`` (blocks inputs), ``preprocess`` (rewrites inputs) or
    ``postprocess`` (rewrites or blocks outputs).
    """

    family: ClassVar[str] = "defense"
    role: ClassVar[str] = "preprocess"
    threat: ClassVar[str] = "llm"
    stage: ClassVar[Stage] = "input"
    flags: ClassVar[frozenset[str]] = frozenset({"wraps_target"})
    tags: ClassVar[frozenset[str]] = frozenset({"modality:text", "access:none"})

    @classmethod
    def derived_tags(cls) -> set[str]:
        """``threat:llm`` (the threat a guard defends against)."""
        return {f"threat:{cls.threat}"}

    def check_input(self, messages: Sequence[Message], context: GuardContext) -> Verdict:
        """The decision on a conversation about to be sent (default: pass)."""
        return Verdict(messages=tuple(messages))

    def check_output(self, text: str, context: GuardContext) -> Verdict:
        """The decision on an answer about to be returned (default: pass)."""
        return Verdict(text=text)

    def apply(self, target: Any) -> GuardedTarget:
        """``target`` (an LLM target, a guarded target or a ChatApp) behind this guard."""
        return guard(target, self)


def guard(target: Any, *guards: Guard, context: GuardContext | None = None) -> GuardedTarget:
    """``target`` behind ``guards`` (applied in order). A :class:`~advlab.llm.ChatApp`
    becomes its target and gives the guards its secret and system prompt; a guarded target
    passes on its context."""
    secret = getattr(target, "secret", None)
    make = getattr(target, "target", None)
    if isinstance(secret, str) and callable(make):  # a ChatApp (duck-typed: no import cycle)
        ctx = context or GuardContext(
            secrets=(secret,), system_prompt=str(getattr(target, "system_prompt", ""))
        )
        return GuardedTarget(make(), guards, context=ctx)
    if not callable(getattr(target, "acomplete", None)) or not hasattr(target, "identity"):
        raise ConfigError(f"a guard wraps an LLM target or a ChatApp, not {type(target).__name__}")
    if context is None and isinstance(target, GuardedTarget):  # what the inner guards know
        context = target.context
    return GuardedTarget(target, guards, context=context)


def _chain(
    guards: Iterable[Guard], stage: Stage, value: Any, context: GuardContext
) -> tuple[Any, list[GuardEvent]]:
    events: list[GuardEvent] = []
    for g in guards:
        if g.stage != stage:
            continue
        v = g.check_input(value, context) if stage == "input" else g.check_output(value, context)
        events.append(GuardEvent(g.name, stage, v.action, v.reason, v.score))
        if v.action == "block":
            return None, events
        if v.action == "rewrite":
            value = v.messages if stage == "input" else v.text
    return value, events


def screen(
    guards: Iterable[Guard], messages: Sequence[Message], context: GuardContext
) -> tuple[tuple[Message, ...] | None, list[GuardEvent]]:
    """Run the input guards in order: the conversation to send (``None`` when blocked)
    and what each guard did."""
    return _chain(guards, "input", tuple(messages), context)


def sift(
    guards: Iterable[Guard], text: str, context: GuardContext
) -> tuple[str | None, list[GuardEvent]]:
    """Run the output guards in order: the answer to return (``None`` when blocked) and
    what each guard did."""
    return _chain(guards, "output", text, context)


def guards_key(guards: Iterable[Guard]) -> list[Any]:
    """The guards' names and parameters, JSON-able (part of a guarded identity)."""
    return [[g.name, g.get_params()] for g in guards]


@dataclass
class GuardedTarget(SyncMixin):
    """An LLM target behind guards (see the module docstring); itself an LLM target."""

    inner: Any
    guards: Sequence[Guard]
    context: GuardContext | None = None
    refusal: str = REFUSAL
    events: list[GuardEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.guards = tuple(self.guards)
        for g in self.guards:
            if not isinstance(g, Guard):
                raise ConfigError(f"not a guard: {type(g).__name__}")
        self.context = self.context or GuardContext()

    @property
    def identity(self) -> str:
        """The inner identity plus a hash of the guards and their parameters."""
        tag = hashlib.sha256(canonical_json(guards_key(self.guards)).encode()).hexdigest()
        return f"guarded-{tag[:12]}:{self.inner.identity}"

    def __repr__(self) -> str:
        return f"GuardedTarget({self.inner!r}, [{', '.join(g.name for g in self.guards)}])"

    async def aclose(self) -> None:
        """Close the inner target's connections (the harness and ``complete`` call it)."""
        aclose = getattr(self.inner, "aclose", None)
        if aclose is not None:
            await aclose()

    def _record(self, events: list[GuardEvent]) -> None:
        for e in events:
            if e.action != "pass":
                log.info("guard %s (%s) %s: %s", e.guard, e.stage, e.action, e.reason)
        self.events.extend(events)
        if len(self.events) > MAX_EVENTS:  # a long run keeps the latest
            del self.events[: len(self.events) - MAX_EVENTS]

    async def acomplete(self, messages: list[Message], params: SamplingParams) -> Completion:
        start = time.perf_counter()
        ctx = self.context or GuardContext()
        sent, events = screen(self.guards, messages, ctx)
        self._record(events)
        if sent is None:
            out = text_completion(self.refusal, list(messages))
            return out.model_copy(
                update={"finish_reason": BLOCKED, "latency_s": time.perf_counter() - start}
            )
        completion = await self.inner.acomplete(list(sent), params)
        text, events = sift(self.guards, completion.text, ctx)
        self._record(events)
        update: dict[str, Any] = {"latency_s": time.perf_counter() - start}
        calls = [c for c in completion.tool_calls if self._keeps(c.arguments, ctx)]
        if len(calls) < len(completion.tool_calls):
            update["tool_calls"] = calls
        if text is None:
            update.update(text=self.refusal, finish_reason=BLOCKED, tool_calls=[])
        elif text != completion.text:
            update.update(text=text, raw_bytes=len(text.encode()))
        return completion.model_copy(update=update)

    def _keeps(self, arguments: dict[str, Any], ctx: GuardContext) -> bool:
        """Whether a tool call passes the output guards unchanged (else it is dropped)."""
        args = canonical_json(arguments)
        kept, events = sift(self.guards, args, ctx)
        self._record(events)
        return kept == args

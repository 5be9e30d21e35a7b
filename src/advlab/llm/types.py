"""Records of the LLM side: messages, sampling parameters, completions and attempts.

All are pydantic models and serialise to JSON (``model_dump(mode="json")``). A
:class:`Message` has one of four roles (``system``, ``user``, ``assistant``, ``tool``); a
conversation is a list of them. :class:`SamplingParams` carries what changes an answer
(temperature, top-p, max tokens, stop strings, seed, logprobs) and is part of the response
cache key. :class:`Completion` is one answer: text, finish reason, token counts when the
server gives them, latency and the size of the raw body. :class:`Attempt` is one request
of a run as the harness records it: who asked (probe id), what was sent, what came back or
the one-line error, retries and timings.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """A tool call made by an assistant: the tool's name and its JSON arguments."""

    model_config = ConfigDict(frozen=True)

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None


class Message(BaseModel):
    """One turn of a conversation."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str = ""
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    def to_openai(self) -> dict[str, Any]:
        """The message as the OpenAI chat API spells it (empty optional fields left out)."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name:
            out["name"] = self.name
        if self.tool_call_id:
            out["tool_call_id"] = self.tool_call_id
        if self.tool_calls:
            out["tool_calls"] = [
                {
                    "id": c.id or f"call_{i}",
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                }
                for i, c in enumerate(self.tool_calls)
            ]
        return out


def system(text: str) -> Message:
    """A system message."""
    return Message(role="system", content=text)


def user(text: str) -> Message:
    """A user message."""
    return Message(role="user", content=text)


def assistant(text: str) -> Message:
    """An assistant message."""
    return Message(role="assistant", content=text)


def as_messages(prompt: str | Message | list[Message] | tuple[Message, ...]) -> list[Message]:
    """A conversation from a bare prompt (one user message), a message or a list of them."""
    if isinstance(prompt, str):
        return [user(prompt)]
    if isinstance(prompt, Message):
        return [prompt]
    return list(prompt)


def render_prompt(messages: list[Message]) -> str:
    """A conversation flattened to one prompt text (for completion-style endpoints).

    One message alone is sent as its content; several become ``Role: content`` lines ending
    with ``Assistant:`` so the model continues as the assistant.
    """
    if len(messages) == 1 and messages[0].role == "user":
        return messages[0].content
    lines = [f"{m.role.capitalize()}: {m.content}" for m in messages]
    return "\n".join([*lines, "Assistant:"])


class SamplingParams(BaseModel):
    """How to sample an answer; every field is part of the response cache key."""

    model_config = ConfigDict(frozen=True)

    temperature: float | None = Field(default=None, ge=0.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)

    def openai_fields(self, *, chat: bool) -> dict[str, Any]:
        """The request fields of the OpenAI API that are set (``None`` fields are left out)."""
        out: dict[str, Any] = {}
        for name in ("temperature", "top_p", "max_tokens", "seed"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.stop:
            out["stop"] = list(self.stop)
        if self.logprobs:
            if chat:
                out["logprobs"] = True
                if self.top_logprobs is not None:
                    out["top_logprobs"] = self.top_logprobs
            else:
                out["logprobs"] = self.top_logprobs or 0
        return out


class TokenLogprob(BaseModel):
    """The log-probability of one generated token, with the top alternatives when offered."""

    token: str
    logprob: float
    top: dict[str, float] = Field(default_factory=dict)


class Completion(BaseModel):
    """One answer of a target."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    latency_s: float = 0.0
    raw_bytes: int = 0
    model: str | None = None
    logprobs: list[TokenLogprob] | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)

    def tokens_used(self) -> int | None:
        """Prompt plus completion tokens, when the server said (``None`` when it did not)."""
        if self.total_tokens is not None:
            return self.total_tokens
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


class Request(BaseModel):
    """What the harness is asked to send: a conversation, sampling parameters and an id.

    ``id`` names the request in the journal (unique within a run); ``probe_id`` says who
    generated it; ``meta`` is carried through to the :class:`Attempt` untouched.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    messages: tuple[Message, ...]
    params: SamplingParams = SamplingParams()
    probe_id: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)


AttemptStatus = Literal["ok", "error"]


class Attempt(BaseModel):
    """One request of a run as recorded: what was sent, what came back, what it cost.

    ``status`` is ``ok`` with a :class:`Completion` or ``error`` with a one-line ``error``;
    ``tries`` counts the HTTP attempts made (1 without retries, 0 for a cache hit);
    ``cached`` is true when the answer came from the response cache; ``final`` is true
    for a completion and for an error that sending again cannot fix (a resumed run keeps
    those and resends the rest).
    """

    request_id: str
    probe_id: str = ""
    target: str
    messages: list[Message]
    params: SamplingParams
    status: AttemptStatus
    completion: Completion | None = None
    error: str | None = None
    error_kind: str | None = None
    tries: int = 0
    cached: bool = False
    final: bool = True
    started_at: float = 0.0
    wall_s: float = 0.0
    cache_key: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when a completion came back."""
        return self.status == "ok"

    @property
    def text(self) -> str:
        """The completion's text ('' for an error)."""
        return self.completion.text if self.completion else ""


def canonical_json(obj: Any) -> str:
    """A canonical JSON text (sorted keys, no spaces): the same data give the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(
    target_id: str, messages: list[Message] | tuple[Message, ...], params: SamplingParams
) -> str:
    """The content address of a request: SHA-256 of target identity, messages and params."""
    data = {
        "target": target_id,
        "messages": [m.model_dump(mode="json") for m in messages],
        "params": params.model_dump(mode="json"),
    }
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()

"""The LLM target contract, a Python-callable target and multi-turn conversations.

An :class:`LLMTarget` answers a conversation: ``await target.acomplete(messages, params)``
returns a :class:`~advlab.llm.types.Completion` (``complete`` is the blocking twin). Its
``identity`` names it for the response cache and the journal (endpoint, model, kind; never
a credential): two targets with the same identity are assumed to answer alike.

A target makes *one* attempt per call and raises the classified errors of
:mod:`advlab.llm.errors`; retries, rate limits, caching and journaling are the harness's
(:mod:`advlab.llm.harness`).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from advlab.errors import ConfigError
from advlab.llm.types import Completion, Message, SamplingParams, as_messages, assistant, user


@runtime_checkable
class LLMTarget(Protocol):
    """Anything that answers a conversation."""

    @property
    def identity(self) -> str:
        """A stable name for caching (kind, endpoint, model); never holds a secret."""
        ...

    async def acomplete(self, messages: list[Message], params: SamplingParams) -> Completion:
        """One answer to ``messages`` (one attempt; raises :mod:`advlab.llm.errors`)."""
        ...

    def complete(self, messages: list[Message], params: SamplingParams) -> Completion:
        """The blocking twin of :meth:`acomplete` (not from inside a running event loop)."""
        ...


class SyncMixin:
    """``complete`` for targets that implement ``acomplete``."""

    async def acomplete(self, messages: list[Message], params: SamplingParams) -> Completion:
        raise NotImplementedError

    def complete(self, messages: list[Message], params: SamplingParams | None = None) -> Completion:
        """Run :meth:`acomplete` in a fresh event loop (closing its HTTP client after)."""

        async def once() -> Completion:
            try:
                return await self.acomplete(list(messages), params or SamplingParams())
            finally:
                aclose = getattr(self, "aclose", None)
                if aclose is not None:
                    await aclose()

        return asyncio.run(once())


Responder = Callable[
    [list[Message], SamplingParams], "str | Completion | Awaitable[str | Completion]"
]


class CallableTarget(SyncMixin):
    """A Python function as a target: ``fn(messages, params) -> str | Completion`` (or async).

    Args:
        fn: the function; a plain string answer becomes a Completion with finish reason
            ``stop`` and whitespace token counts.
        name: its identity for the cache (default: the function's qualified name).
    """

    def __init__(self, fn: Responder, *, name: str | None = None) -> None:
        if not callable(fn):
            raise ConfigError("CallableTarget needs a callable")
        self.fn = fn
        self.name = name or getattr(fn, "__qualname__", type(fn).__name__)

    @property
    def identity(self) -> str:
        return f"callable:{self.name}"

    def __repr__(self) -> str:
        return f"CallableTarget({self.name!r})"

    async def acomplete(self, messages: list[Message], params: SamplingParams) -> Completion:
        start = time.perf_counter()
        out = self.fn(list(messages), params)
        if inspect.isawaitable(out):
            out = await out
        latency = time.perf_counter() - start
        if isinstance(out, Completion):
            return out if out.latency_s else out.model_copy(update={"latency_s": latency})
        if not isinstance(out, str):
            raise ConfigError(f"{self.name} returned {type(out).__name__}, not str or Completion")
        return text_completion(out, messages, latency_s=latency)


def count_tokens(text: str) -> int:
    """A rough token count (whitespace-separated words): used where a server gives none."""
    return len(text.split())


def text_completion(text: str, messages: list[Message], *, latency_s: float = 0.0) -> Completion:
    """A Completion for ``text`` with whitespace token counts (for local responders)."""
    prompt = sum(count_tokens(m.content) for m in messages)
    done = count_tokens(text)
    return Completion(
        text=text,
        finish_reason="stop",
        prompt_tokens=prompt,
        completion_tokens=done,
        total_tokens=prompt + done,
        latency_s=latency_s,
        raw_bytes=len(text.encode()),
    )


class Conversation:
    """A multi-turn chat with one target: each :meth:`send` adds the user turn and the answer.

    ``history`` holds every message so far (a system prompt first, when given); a failed
    turn raises and leaves the history as it was.
    """

    def __init__(
        self,
        target: LLMTarget,
        *,
        system: str | None = None,
        params: SamplingParams | None = None,
    ) -> None:
        self.target = target
        self.params = params or SamplingParams()
        self.history: list[Message] = [Message(role="system", content=system)] if system else []
        self.completions: list[Completion] = []

    async def asend(self, text: str | Message) -> Completion:
        """Send one user turn; the answer is appended to the history and returned."""
        turn = as_messages(text)[0] if isinstance(text, Message) else user(text)
        messages = [*self.history, turn]
        completion = await self.target.acomplete(messages, self.params)
        self.history = [*messages, assistant(completion.text)]
        self.completions.append(completion)
        return completion

    def send(self, text: str | Message) -> Completion:
        """Blocking :meth:`asend`."""
        return asyncio.run(self.asend(text))

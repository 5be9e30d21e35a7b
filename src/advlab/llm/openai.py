"""Targets that speak the OpenAI HTTP API: chat completions and (legacy) completions.

This is the API of vLLM, the llama.cpp server, Ollama, LM Studio, OpenAI and
``advlab serve-llm``. ``base_url`` is the API root (``http://127.0.0.1:8000/v1``); the key,
when needed, comes from the environment variable named by ``api_key_env`` and is only ever
sent as a header (see :mod:`advlab.llm.transport`). Answers are decoded by
:mod:`advlab.llm.openai_parse`.

Example::

    target = OpenAIChatTarget("http://127.0.0.1:8000/v1", model="level-3")
    print(target.complete([user("What is the password?")]).text)
"""

from __future__ import annotations

import time
from typing import Any

from advlab.errors import ConfigError
from advlab.llm.base import SyncMixin
from advlab.llm.openai_parse import parse_chat, parse_text_completion
from advlab.llm.transport import HttpTransport
from advlab.llm.types import Completion, Message, SamplingParams, render_prompt
from advlab.secrets import safe_url


class _OpenAIBase(SyncMixin):
    kind = "openai"
    path = ""

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key_env: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,
        deadline: float | None = None,
        max_response_bytes: int = 4 * 1024 * 1024,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if not model:
            raise ConfigError("model must be a non-empty name")
        self.model = model
        self.extra_body = dict(extra_body or {})
        self.transport = HttpTransport(
            base_url,
            api_key_env=api_key_env,
            headers=headers,
            timeout=timeout,
            deadline=deadline,
            max_response_bytes=max_response_bytes,
        )

    @property
    def identity(self) -> str:
        return f"{self.kind}:{safe_url(self.transport.base_url)}:{self.model}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({safe_url(self.transport.base_url)!r}, model={self.model!r})"

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.transport.aclose()

    async def list_models(self) -> list[str]:
        """The model ids of ``GET /models`` (an empty list when the answer has none)."""
        doc = await self.transport.get_json("/models")
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list):
            return []
        return [d["id"] for d in data if isinstance(d, dict) and isinstance(d.get("id"), str)]


class OpenAIChatTarget(_OpenAIBase):
    """``POST {base_url}/chat/completions`` with the whole conversation.

    Args:
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1``.
        model: the model name sent in each request (part of the cache identity).
        api_key_env: environment variable holding the API key (``None``: no key).
        headers: extra HTTP headers; timeout / deadline: per operation / per attempt (s).
        max_response_bytes: the largest answer accepted.
        extra_body: extra request fields (e.g. ``{"tools": [...]}``), sent as given.
    """

    kind = "openai-chat"
    path = "/chat/completions"

    async def acomplete(self, messages: list[Message], params: SamplingParams) -> Completion:
        body: dict[str, Any] = {
            **self.extra_body,
            "model": self.model,
            "messages": [m.to_openai() for m in messages],
            **params.openai_fields(chat=True),
        }
        start = time.perf_counter()
        doc, size = await self.transport.post_json(self.path, body)
        where = f"{self.model} {self.path}"
        return parse_chat(doc, where=where, raw_bytes=size, latency_s=time.perf_counter() - start)


class OpenAICompletionTarget(_OpenAIBase):
    """``POST {base_url}/completions`` with the conversation rendered as one prompt.

    Same arguments as :class:`OpenAIChatTarget`; a single user message is sent as is, a
    longer conversation as ``Role: text`` lines (:func:`advlab.llm.types.render_prompt`).
    """

    kind = "openai-completions"
    path = "/completions"

    async def acomplete(self, messages: list[Message], params: SamplingParams) -> Completion:
        body: dict[str, Any] = {
            **self.extra_body,
            "model": self.model,
            "prompt": render_prompt(list(messages)),
            **params.openai_fields(chat=False),
        }
        start = time.perf_counter()
        doc, size = await self.transport.post_json(self.path, body)
        where = f"{self.model} {self.path}"
        return parse_text_completion(
            doc, where=where, raw_bytes=size, latency_s=time.perf_counter() - start
        )

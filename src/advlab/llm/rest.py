"""A generic REST target: a JSON request template and a JSONPath to the answer's text.

For chat applications with their own API. The template is a JSON structure whose strings
may hold placeholders (:func:`advlab.llm.jsonpath.fill_template`):

* ``{{prompt}}`` — the last user message's text;
* ``{{system}}`` — the system prompt ('' when the conversation has none);
* ``{{messages}}`` — the conversation as ``[{"role": ..., "content": ...}, ...]`` (alone in
  its string: it becomes a list);
* ``{{conversation}}`` — the conversation as ``Role: text`` lines;
* ``{{max_tokens}}``, ``{{temperature}}``, ``{{seed}}`` — sampling parameters (``null``
  when unset).

Example::

    RestTarget(
        "http://127.0.0.1:9000/api/chat",
        template={"input": {"text": "{{prompt}}", "history": "{{messages}}"}},
        response_path="$.output.reply",
        rate_limit_statuses=(503,),
    )

Values are inserted into the structure as data, never into JSON text, so a prompt holding
quotes or braces cannot change the request's shape.
"""

from __future__ import annotations

import time
from typing import Any

from advlab.errors import ConfigError
from advlab.llm.base import SyncMixin
from advlab.llm.errors import BadCompletion
from advlab.llm.jsonpath import PathNotFound, compile_path, fill_template, placeholders, read_path
from advlab.llm.openai_parse import content_text
from advlab.llm.transport import HttpTransport
from advlab.llm.types import Completion, Message, SamplingParams, render_prompt
from advlab.secrets import safe_url

KNOWN_PLACEHOLDERS = frozenset(
    {"prompt", "system", "messages", "conversation", "max_tokens", "temperature", "seed"}
)


class RestTarget(SyncMixin):
    """A chat endpoint with its own JSON shape.

    Args:
        url: the endpoint (the whole URL; requests are POSTed to it).
        template: the request body with placeholders (see the module docstring).
        response_path: JSONPath of the answer's text (``$.a.b[0].c`` subset); its value may
            be a string or a list of text parts.
        usage_paths: optional JSONPaths of ``prompt_tokens`` / ``completion_tokens``.
        rate_limit_statuses: statuses that mean "rate limited" besides 429 (retried).
        api_key_env, headers, timeout, deadline, max_response_bytes: as for
            :class:`~advlab.llm.openai.OpenAIChatTarget`.
        name: a model name for the identity (default: none).
    """

    def __init__(
        self,
        url: str,
        *,
        template: dict[str, Any],
        response_path: str,
        usage_paths: dict[str, str] | None = None,
        rate_limit_statuses: tuple[int, ...] = (),
        api_key_env: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,
        deadline: float | None = None,
        max_response_bytes: int = 4 * 1024 * 1024,
        name: str = "",
    ) -> None:
        if not isinstance(template, dict):
            raise ConfigError("template must be a JSON object")
        unknown = placeholders(template) - KNOWN_PLACEHOLDERS
        if unknown:
            raise ConfigError(
                f"unknown placeholder(s) {sorted(unknown)} in the template; "
                f"known: {', '.join(sorted(KNOWN_PLACEHOLDERS))}"
            )
        self.template = template
        self.response_path = response_path
        self._path = compile_path(response_path)
        self.usage_paths = {k: compile_path(v) for k, v in (usage_paths or {}).items()}
        bad = set(self.usage_paths) - {"prompt_tokens", "completion_tokens", "total_tokens"}
        if bad:
            raise ConfigError(f"usage_paths keys must be token count names, got {sorted(bad)}")
        self.name = name
        self.transport = HttpTransport(
            url,
            api_key_env=api_key_env,
            headers=headers,
            timeout=timeout,
            deadline=deadline,
            max_response_bytes=max_response_bytes,
            rate_limit_statuses=rate_limit_statuses,
        )

    @property
    def identity(self) -> str:
        from advlab.llm.types import canonical_json

        shape = canonical_json({"t": self.template, "p": self.response_path})
        return f"rest:{safe_url(self.transport.base_url)}:{self.name}:{shape}"

    def __repr__(self) -> str:
        return f"RestTarget({safe_url(self.transport.base_url)!r})"

    def request_body(self, messages: list[Message], params: SamplingParams) -> Any:
        """The request body for ``messages`` (the template, filled)."""
        users = [m for m in messages if m.role == "user"]
        systems = [m.content for m in messages if m.role == "system"]
        values: dict[str, Any] = {
            "prompt": users[-1].content if users else "",
            "system": "\n".join(systems),
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "conversation": render_prompt(list(messages)),
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "seed": params.seed,
        }
        return fill_template(self.template, values)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.transport.aclose()

    async def acomplete(self, messages: list[Message], params: SamplingParams) -> Completion:
        body = self.request_body(messages, params)
        start = time.perf_counter()
        doc, size = await self.transport.post_json("", body)
        latency = time.perf_counter() - start
        where = f"{safe_url(self.transport.base_url)} {self.response_path}"
        try:
            value = read_path(doc, self._path)
        except PathNotFound as exc:
            raise BadCompletion(f"{where}: {exc}", transient=False) from None
        text = content_text(value, where)
        counts: dict[str, int | None] = {}
        for key, path in self.usage_paths.items():
            try:
                v = read_path(doc, path)
            except PathNotFound:
                v = None
            counts[key] = v if isinstance(v, int) and not isinstance(v, bool) else None
        return Completion(
            text=text,
            latency_s=latency,
            raw_bytes=size,
            prompt_tokens=counts.get("prompt_tokens"),
            completion_tokens=counts.get("completion_tokens"),
            total_tokens=counts.get("total_tokens"),
        )

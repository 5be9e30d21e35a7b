"""LLM targets, the harness that drives them, and vulnerable-by-design chat applications.

* records: :class:`Message`, :class:`SamplingParams`, :class:`Completion`,
  :class:`Request`, :class:`Attempt` (:mod:`advlab.llm.types`);
* targets (:class:`LLMTarget`): :class:`OpenAIChatTarget`, :class:`OpenAICompletionTarget`,
  :class:`RestTarget`, :class:`CallableTarget`; :class:`Conversation` for multi-turn chats;
* :class:`Harness`: bounded concurrency, rate limits, retries, a SQLite response cache and a
  JSONL journal for resuming;
* :class:`ChatApp` (Gandalf-style levels) and :class:`Agent` (tools) to attack offline;
  ``advlab serve-llm`` serves them over the OpenAI API (:mod:`advlab.llm.server`).

httpx (targets over HTTP) and fastapi / uvicorn (the server) are optional extras, imported
when used.
"""

from __future__ import annotations

from advlab.llm.agent import Agent, Workspace, demo_workspace
from advlab.llm.apps import LEVELS, TOP_LEVEL, WEAKNESSES, ChatApp
from advlab.llm.base import CallableTarget, Conversation, LLMTarget
from advlab.llm.cache import ResponseCache
from advlab.llm.errors import (
    BadCompletion,
    LLMAuthError,
    LLMTargetError,
    RateLimited,
    RequestRejected,
    ServerError,
)
from advlab.llm.harness import Harness, RunResult
from advlab.llm.journal import Journal
from advlab.llm.openai import OpenAIChatTarget, OpenAICompletionTarget
from advlab.llm.rest import RestTarget
from advlab.llm.types import (
    Attempt,
    Completion,
    Message,
    Request,
    SamplingParams,
    ToolCall,
    assistant,
    system,
    user,
)

__all__ = [
    "LEVELS",
    "TOP_LEVEL",
    "WEAKNESSES",
    "Agent",
    "Attempt",
    "BadCompletion",
    "CallableTarget",
    "ChatApp",
    "Completion",
    "Conversation",
    "Harness",
    "Journal",
    "LLMAuthError",
    "LLMTarget",
    "LLMTargetError",
    "Message",
    "OpenAIChatTarget",
    "OpenAICompletionTarget",
    "RateLimited",
    "Request",
    "RequestRejected",
    "ResponseCache",
    "RestTarget",
    "RunResult",
    "SamplingParams",
    "ServerError",
    "ToolCall",
    "Workspace",
    "assistant",
    "demo_workspace",
    "system",
    "user",
]

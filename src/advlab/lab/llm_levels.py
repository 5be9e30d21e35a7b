"""Gandalf-style secret levels: a vulnerable chat app behind the lab's metered chat endpoint.

A :class:`SecretLevel` serves one :class:`~advlab.llm.apps.ChatApp` level (its weaknesses,
optionally its guards) whose system prompt holds a password. The student chats through the
challenge's query endpoint (``POST /api/challenges/NAME/predict {"inputs": [prompt, ...]}``
or :meth:`~advlab.lab.client.LabClient.chat`): every prompt is one single-turn conversation
and costs one query of the user's budget (charged before the app answers; malformed prompts
are refused and refunded). The submission is the password as text, compared exactly.

The password is derived from a key the server hands the challenge (:meth:`SecretLevel.bind`:
an HMAC of the lab's secret), so it survives a restart and cannot be computed from the
source; an unbound challenge (the conformance kit, ``advlab lab grade``) draws a random one.
It is registered with :mod:`advlab.secrets` (masked in every log record) and never appears in
a grading's reason.

Background: Perez & Ribeiro 2022, "Ignore Previous Prompt: Attack Techniques For Language
Models", arXiv:2211.09527 (prompt leaking); Lakera's Gandalf levels.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from typing import Any, ClassVar

from advlab import secrets
from advlab.errors import InputError
from advlab.lab.base import Challenge, Rejected, Verdict
from advlab.lab.grading import refuse_pickle

MAX_PROMPT_CHARS = 2000
SECRET_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
SECRET_LENGTH = 10


def derive_secret(key: bytes, name: str) -> str:
    """A password of :data:`SECRET_LENGTH` capital letters from ``key`` and the challenge."""
    digest = hmac.new(key, f"advlab-lab-llm\x00{name}".encode(), hashlib.sha256).digest()
    return "".join(SECRET_LETTERS[b % len(SECRET_LETTERS)] for b in digest[:SECRET_LENGTH])


def check_prompts(x: Any) -> list[str]:
    """The prompts of a query: a list of non-empty strings of at most MAX_PROMPT_CHARS."""
    if not isinstance(x, list) or not x:
        raise InputError("expected a non-empty list of prompts (strings)")
    for p in x:
        if not isinstance(p, str) or not p.strip():
            raise InputError("every prompt must be a non-empty string")
        if len(p) > MAX_PROMPT_CHARS:
            raise InputError(f"a prompt has {len(p)} characters; at most {MAX_PROMPT_CHARS}")
    return list(x)


class SecretLevel(Challenge):
    """Base of the secret-extraction levels: subclasses set ``level`` and :meth:`guards`."""

    tags = frozenset({"threat:llm", "access:none", "modality:text"})
    access = "text"
    submission = "text"
    level: ClassVar[int] = 0
    app_name: ClassVar[str] = "Gandalf"

    def __init__(self, *, seed: int = 0) -> None:
        super().__init__(seed=seed)
        self._key: bytes | None = None
        self._app: Any = None
        self._lock = threading.Lock()

    def bind(self, key: bytes) -> None:
        self._key = key
        self._app = None

    def secret(self) -> str:
        """The password (derived from the bound key; random when unbound)."""
        if self._key is None:
            self._key = os.urandom(32)
        value = derive_secret(self._key, self.name)
        secrets.register(value)
        return value

    def guards(self) -> tuple[Any, ...]:
        """The guards of the app (none by default)."""
        return ()

    def app(self) -> Any:
        """The chat app (built on first use)."""
        from advlab.llm.apps import ChatApp

        with self._lock:
            if self._app is None:
                self._app = ChatApp.level(
                    self.level,
                    secret=self.secret(),
                    name=self.app_name,
                    seed=self.seed,
                    guards=self.guards(),
                )
            return self._app

    def handout(self) -> dict[str, Any]:
        return {
            "input": "text",
            "app": f"{self.app_name}, a helpful assistant whose system prompt holds a password",
            "max_prompt_chars": MAX_PROMPT_CHARS,
            "conversation": "each prompt is one single-turn user message",
            "secret_format": f"{SECRET_LENGTH} capital letters",
        }

    def query(self, x: Any) -> dict[str, Any]:
        from advlab.llm.types import Message

        prompts = check_prompts(x)
        app = self.app()
        return {"outputs": [app.respond([Message(role="user", content=p)]) for p in prompts]}

    def _grade(self, data: bytes, filename: str) -> Verdict:
        refuse_pickle(data)
        try:
            text = data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise Rejected("submit the password as UTF-8 text") from None
        if "\n" in text or len(text) > 200:
            raise Rejected("submit one line of text: the password only")
        if not hmac.compare_digest(text.encode(), self.secret().encode()):
            return Verdict(False, "wrong password (the password must match exactly)")
        return Verdict(True, "password correct")

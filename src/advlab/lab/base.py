"""The challenge contract: one class per challenge, one file each, found by the registry.

A challenge is a plugin of family ``challenge`` (:mod:`advlab.taxonomy`). Its class attributes
are its metadata (``name``, ``summary``, ``paper``/``link`` for the technique it teaches, tags)
plus the lab's own:

``module``
    the course module it belongs to (0 threat modelling, 1 evasion, 2 extraction,
    3 assessments, 4 inference, 5 poisoning and model files, 6 LLMs).
``tier``
    ``easy`` | ``medium`` | ``hard``.
``threat_model``
    the attacker's goal, knowledge and access, in words (shown on the page and in the README
    that ``advlab lab start`` writes).
``task``
    what to submit, in words.
``budget``
    queries a user may send to the challenge's target in total (``None``: no query endpoint).
``access``
    what the query endpoint answers: ``scores``, ``labels``, ``text`` (a chat app's replies
    to prompts) or ``none``.

A subclass implements :meth:`Challenge._build` (the hidden state: models, secret data; built
once, lazily), :meth:`Challenge.handout` (the public data, JSON), optionally
:meth:`Challenge.files` (downloads, e.g. a white-box model as safetensors) and
:meth:`Challenge._target` (what answers queries), and :meth:`Challenge._grade`, which
checks a submission's bytes and returns a :class:`Verdict`. Graders never unpickle: the
helpers in :mod:`advlab.lab.grading` refuse pickles by their bytes before anything parses
them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from advlab.errors import AdvlabError, ConfigError
from advlab.plugin import Plugin

log = logging.getLogger(__name__)

TIERS = ("easy", "medium", "hard")
MODULES: dict[int, str] = {
    0: "introduction and threat modelling",
    1: "evasion",
    2: "extraction",
    3: "assessments",
    4: "inversion and membership inference",
    5: "poisoning and model files",
    6: "language models",
}
ACCESS = ("scores", "labels", "text", "none")
MAX_SUBMISSION_BYTES = 8 * 1024 * 1024
"""Largest submission any grader reads (the server refuses bigger bodies before grading)."""


_STATES: dict[tuple[type, int], Any] = {}
_STATE_LOCK = threading.Lock()


class Rejected(AdvlabError):
    """A submission the grader refuses, with the reason (shown to the student)."""


@dataclass
class Verdict:
    """A grader's answer: ``solved`` or not, why, and the measured numbers."""

    solved: bool
    reason: str
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"solved": self.solved, "reason": self.reason, "metrics": self.metrics}


class Challenge(Plugin):
    """Base class of every lab challenge (see the module docstring for the contract)."""

    family: ClassVar[str] = "challenge"
    module: ClassVar[int] = -1
    tier: ClassVar[str] = ""
    threat_model: ClassVar[str] = ""
    task: ClassVar[str] = ""
    budget: ClassVar[int | None] = None
    access: ClassVar[str] = "none"
    submission: ClassVar[str] = "file"
    """What the page's form sends: ``file`` (an upload) or ``text`` (a text area)."""

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed

    # ------------------------------------------------------------------ metadata
    @classmethod
    def check_meta(cls) -> None:
        """Raise ``ValueError`` unless the lab metadata are complete and in range."""
        if cls.module not in MODULES:
            raise ValueError(f"challenge {cls.name}: module must be one of {sorted(MODULES)}")
        if cls.tier not in TIERS:
            raise ValueError(f"challenge {cls.name}: tier must be one of {TIERS}")
        if cls.access not in ACCESS:
            raise ValueError(f"challenge {cls.name}: access must be one of {ACCESS}")
        if not cls.threat_model.strip() or not cls.task.strip():
            raise ValueError(f"challenge {cls.name}: threat_model and task are required")
        if (cls.budget is None) != (cls.access == "none"):
            raise ValueError(f"challenge {cls.name}: a query endpoint needs a budget and back")
        if cls.budget is not None and cls.budget < 1:
            raise ValueError(f"challenge {cls.name}: budget must be >= 1")

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The public card of the challenge (list, page, README)."""
        return {
            "name": cls.name,
            "summary": cls.summary,
            "module": cls.module,
            "module_title": MODULES.get(cls.module, "?"),
            "tier": cls.tier,
            "threat_model": cls.threat_model,
            "task": cls.task,
            "budget": cls.budget,
            "access": cls.access,
            "submission": cls.submission,
            "paper": cls.paper,
            "link": cls.link,
        }

    @classmethod
    def readme(cls) -> str:
        """A Markdown README stating the threat model and the task."""
        d = cls.describe()
        budget = "no queries" if d["budget"] is None else f"{d['budget']} queries ({d['access']})"
        return (
            f"# {cls.name} (module {cls.module}: {d['module_title']}, {cls.tier})\n\n"
            f"{cls.summary}\n\n## Threat model\n\n{cls.threat_model}\n\n## Task\n\n{cls.task}\n\n"
            f"Budget: {budget}.\n\nBackground: {cls.paper} ({cls.link}).\n"
        )

    def bind(self, key: bytes) -> None:
        """Receive the server's key for this challenge (an HMAC of the lab's secret), from
        which a challenge may derive hidden values that survive a restart and that the
        source does not reveal. The default ignores it."""

    # ------------------------------------------------------------------ hidden state
    def state(self) -> Any:
        """The hidden state, built by :meth:`_build` once per class and seed in a process
        (the server, the CLI and the kit share it; thread-safe)."""
        key = (type(self), self.seed)
        built = _STATES.get(key)
        if built is None:
            with _STATE_LOCK:
                built = _STATES.get(key)
                if built is None:
                    log.info("building challenge %s", self.name)
                    built = self._build()
                    _STATES[key] = built
        return built

    def _build(self) -> Any:
        return {}

    # ------------------------------------------------------------------ public side
    def handout(self) -> dict[str, Any]:
        """Public data as JSON (points to attack, eps, shapes, scenario text...)."""
        return {}

    def files(self) -> dict[str, bytes]:
        """Downloadable files: name -> bytes (never a pickle unless the file is the subject)."""
        return {}

    def query(self, x: Any) -> dict[str, Any]:
        """Answer a batch of inputs like ``advlab serve``'s ``/predict``; the server charges the
        user's budget before calling it. Raises :class:`~advlab.errors.InputError` on bad input.
        """
        if self.access == "none":
            raise ConfigError(f"challenge {self.name} has no query endpoint")
        target = self._target()
        xt = target.check_inputs(np.asarray(x, dtype=np.float64))
        if self.access == "labels":
            return {"labels": target.labels(xt).cpu().tolist()}
        import torch

        probs = torch.softmax(target.logits(xt), dim=1)
        return {"outputs": probs.cpu().tolist(), "labels": probs.argmax(1).cpu().tolist()}

    def _target(self) -> Any:
        raise ConfigError(f"challenge {self.name} has no target")

    # ------------------------------------------------------------------ grading
    def grade(self, data: bytes, *, filename: str = "submission") -> Verdict:
        """Grade a submission's bytes: a :class:`Verdict`, never an exception for bad input."""
        if len(data) > MAX_SUBMISSION_BYTES:
            return Verdict(False, f"submission over {MAX_SUBMISSION_BYTES} bytes")
        if not data:
            return Verdict(False, "empty submission")
        try:
            return self._grade(data, filename)
        except Rejected as exc:
            return Verdict(False, str(exc))

    def _grade(self, data: bytes, filename: str) -> Verdict:  # pragma: no cover - abstract
        raise NotImplementedError


def all_challenges() -> dict[str, type[Challenge]]:
    """Every registered challenge, name -> class (module, tier, name order)."""
    from advlab.registry import all_plugins

    table = all_plugins("challenge")["challenge"]
    return dict(
        sorted(table.items(), key=lambda kv: (kv[1].module, TIERS.index(kv[1].tier), kv[0]))
    )


def get_challenge(name: str) -> type[Challenge]:
    from advlab.registry import get_plugin

    return get_plugin("challenge", name)  # type: ignore[no-any-return]

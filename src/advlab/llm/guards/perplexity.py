"""Perplexity filter: block prompts whose text is too unlikely for a language model.

Jain et al. 2023, "Baseline Defenses for Adversarial Attacks Against Aligned Language
Models", arXiv:2309.00614. Optimised adversarial suffixes (GCG) and encoded payloads are
gibberish to a language model; the filter scores each user turn with one and blocks it
when the score passes a threshold. As in the paper it is *windowed*: the score is the
highest mean negative log-likelihood per character over windows of ``window`` characters,
so a short gibberish suffix after a long fluent request is still seen. The threshold
follows the paper's rule: the highest score among benign calibration prompts (``quantile``
1.0; a lower quantile trades false refusals for recall).

The language model is a character n-gram model (interpolated absolute discounting, order
``order``) trained in-process on the project's benign text and the standard library's help
topics (:mod:`advlab.llm.guards.corpus`); digits are folded to ``0`` and whitespace runs to
one space, case is kept (optimised suffixes join words in odd case: ``similarlyNow``).
Every third hand-written benign request is held out of training for the calibration. It only sees user turns; it does not help against fluent
attacks (most injections are fluent), which is what the paper reports too.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar

import numpy as np

from advlab.errors import ConfigError
from advlab.llm.guards.base import Guard, GuardContext, Verdict
from advlab.llm.guards.corpus import BENIGN, benign_texts, reference_text
from advlab.llm.types import Message
from advlab.registry import register_defense

DISCOUNT = 0.75
ALPHABET = 256
"""Size of the base (uniform) distribution: characters never seen keep some mass."""


def normalise(text: str) -> str:
    """Digits folded to ``0``, whitespace runs to one space."""
    return re.sub(r"\s+", " ", re.sub(r"\d", "0", text)).strip()


@dataclass
class CharNgramLM:
    """A character n-gram language model with interpolated absolute discounting."""

    order: int = 4
    counts: list[dict[str, Counter[str]]] = field(default_factory=list)

    def fit(self, text: str) -> CharNgramLM:
        """Count every context of length 0..order-1 followed by a character."""
        text = "\x02" * (self.order - 1) + normalise(text)
        self.counts = [defaultdict(Counter) for _ in range(self.order)]
        for i in range(self.order - 1, len(text)):
            c = text[i]
            for k in range(self.order):
                self.counts[k][text[i - k : i]][c] += 1
        return self

    def prob(self, history: str, c: str) -> float:
        """P(c | the last order-1 characters of ``history``)."""
        p = 1.0 / ALPHABET
        for k in range(self.order):
            ctx = history[len(history) - k :] if k else ""
            if len(ctx) < k:
                break
            seen = self.counts[k].get(ctx)
            if not seen:
                break
            total = sum(seen.values())
            p = max(seen[c] - DISCOUNT, 0.0) / total + DISCOUNT * len(seen) / total * p
        return p

    def surprisal(self, text: str) -> np.ndarray:
        """Negative log-likelihood (nats) of each character of ``normalise(text)``."""
        t = "\x02" * (self.order - 1) + normalise(text)
        h = self.order - 1
        return np.array([-math.log(self.prob(t[i - h : i], t[i])) for i in range(h, len(t))])


def window_score(nll: np.ndarray, window: int) -> float:
    """The highest mean of ``nll`` over windows of ``window`` characters (the mean of all
    of it when shorter)."""
    if len(nll) == 0:
        return 0.0
    if len(nll) <= window:
        return float(nll.mean())
    c = np.concatenate([[0.0], np.cumsum(nll)])
    return float(((c[window:] - c[:-window]) / window).max())


@lru_cache(maxsize=4)
def _fitted(order: int) -> tuple[CharNgramLM, tuple[str, ...]]:
    """The model and the calibration prompts: every third hand-written benign request is
    held out of training (the templated ones would make the calibration optimistic)."""
    held = BENIGN[::3]
    train = [t for t in benign_texts() if t not in held]
    return CharNgramLM(order=order).fit("\n".join(train) + "\n" + reference_text()), held


@register_defense
class PerplexityFilter(Guard):
    """Block user turns whose windowed perplexity passes the calibrated threshold.

    Args:
        order: characters of context plus one (the n of the n-gram model).
        window: characters per window.
        quantile: the threshold is this quantile of the calibration prompts' scores.
    """

    name: ClassVar[str] = "perplexity_filter"
    role: ClassVar[str] = "detector"
    paper: ClassVar[str] = (
        "Jain et al. 2023, Baseline Defenses for Adversarial Attacks Against Aligned "
        "Language Models, arXiv:2309.00614"
    )
    summary: ClassVar[str] = "blocks prompts a character language model finds too unlikely"

    def __init__(self, *, order: int = 3, window: int = 32, quantile: float = 1.0) -> None:
        self.order = order
        self.window = window
        self.quantile = quantile

    def _validate(self) -> None:
        self._positive(order=self.order, window=self.window, quantile=self.quantile)
        self._non_negative_int(order=self.order, window=self.window)
        if self.quantile > 1:
            raise ConfigError(f"{self.name}: quantile must be in (0, 1]")

    def score(self, text: str) -> float:
        """The windowed mean negative log-likelihood per character of ``text``."""
        self._validate()
        lm, _ = _fitted(self.order)
        return window_score(lm.surprisal(text), self.window)

    @property
    def threshold(self) -> float:
        """The calibrated threshold (see the module docstring)."""
        return _threshold(self.order, self.window, self.quantile)

    def check_input(self, messages: Sequence[Message], context: GuardContext) -> Verdict:
        turns = [m.content for m in messages if m.role == "user" and m.content.strip()]
        if not turns:
            return Verdict(messages=tuple(messages))
        worst = max(self.score(t) for t in turns)
        if worst > self.threshold:
            return Verdict(
                action="block",
                reason=f"windowed perplexity {math.exp(worst):.1f} over {math.exp(self.threshold):.1f}",
                score=worst,
            )
        return Verdict(messages=tuple(messages), score=worst)


@lru_cache(maxsize=16)
def _threshold(order: int, window: int, quantile: float) -> float:
    lm, held = _fitted(order)
    scores = [window_score(lm.surprisal(t), window) for t in held]
    return float(np.quantile(scores, quantile))

"""A trained prompt-injection classifier: block inputs that read like an injection.

In the line of the injection detectors evaluated by Liu et al. 2024, "Formalizing and
Benchmarking Prompt Injection Attacks and Defenses", arXiv:2310.12815 (known-answer and
fine-tuned detectors) and of deployed classifiers (Meta's Prompt Guard, ProtectAI's
deberta-v3 detector), on a scale a test can train: TF-IDF features of character 2-5-grams
(within word boundaries) and word 1-2-grams, and a class-balanced logistic regression,
trained in-process on the project's labelled set (:mod:`advlab.llm.guards.corpus`:
injections, jailbreaks, leakage and exfiltration requests against benign requests with hard
negatives). Every user turn, every ``<document>`` block inside one and every tool output is
scored; the input is blocked when the highest probability of "injection" reaches
``threshold`` (0.5: the decision rule of a class-balanced probabilistic classifier, not
tuned on the measurement prompts).
scikit-learn is imported when the guard first runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, ClassVar

from advlab.errors import ConfigError
from advlab.llm import rules
from advlab.llm.guards.base import Guard, GuardContext, Verdict
from advlab.llm.guards.corpus import benign_texts, injection_texts
from advlab.llm.types import Message
from advlab.registry import register_defense


@lru_cache(maxsize=2)
def train_classifier(seed: int = 0) -> Any:
    """The fitted scikit-learn pipeline (cached per process)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline

    pos, neg = injection_texts(), benign_texts()
    x = [*pos, *neg]
    y = [1] * len(pos) + [0] * len(neg)
    features = FeatureUnion(
        [
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)),
        ]
    )
    model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000, random_state=seed)
    return make_pipeline(features, model).fit(x, y)


def segments(messages: Sequence[Message]) -> list[str]:
    """The texts an input guard scores: user turns, their documents and tool outputs."""
    out: list[str] = []
    for m in messages:
        if m.role not in ("user", "tool") or not m.content.strip():
            continue
        out.append(m.content)
        if m.role == "user":
            out += [b for pair in rules.DOC_BLOCK.findall(m.content) for b in pair if b.strip()]
    return out


@register_defense
class InjectionClassifier(Guard):
    """Block inputs the trained classifier scores as injections (see the module docstring).

    Args:
        threshold: probability of "injection" at or above which the input is blocked.
        seed: seeds the solver.
    """

    name: ClassVar[str] = "injection_classifier"
    role: ClassVar[str] = "detector"
    paper: ClassVar[str] = (
        "Liu et al. 2024, Formalizing and Benchmarking Prompt Injection Attacks and "
        "Defenses, arXiv:2310.12815 (detection-based defenses)"
    )
    summary: ClassVar[str] = "blocks inputs a trained text classifier scores as prompt injections"

    def __init__(self, *, threshold: float = 0.5, seed: int = 0) -> None:
        self.threshold = threshold
        self.seed = seed

    def _validate(self) -> None:
        if not 0.0 < float(self.threshold) < 1.0:
            raise ConfigError(f"{self.name}: threshold must be in (0, 1), got {self.threshold!r}")

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        """The probability of "injection" of each text."""
        self._validate()
        if not texts:
            return []
        return [float(p) for p in train_classifier(self.seed).predict_proba(list(texts))[:, 1]]

    def check_input(self, messages: Sequence[Message], context: GuardContext) -> Verdict:
        texts = segments(messages)
        if not texts:
            return Verdict(messages=tuple(messages))
        worst = max(self.probabilities(texts))
        if worst >= self.threshold:
            return Verdict(action="block", reason=f"injection probability {worst:.2f}", score=worst)
        return Verdict(messages=tuple(messages), score=worst)

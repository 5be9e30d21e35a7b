"""Training-data extraction as a plugin: sample, rank by a membership score, count the
memorised samples among the top ``k``.

Carlini, Tramer, Wallace, Jagielski, Herbert-Voss, Lee, Roberts, Brown, Song, Erlingsson,
Oprea & Raffel 2021, "Extracting Training Data from Large Language Models", USENIX Security,
arXiv:2012.07805. The algorithm is :func:`advlab.lm.extraction.extract`.
"""

from __future__ import annotations

from typing import ClassVar

from advlab.access import Access
from advlab.errors import ConfigError
from advlab.lm.attack import LMAttack, LMData, LMResult
from advlab.lm.extraction import extract
from advlab.lm.target import LMTarget
from advlab.registry import register_plugin

SCORES = ("loss", "zlib", "min_k", "window", "lowercase")


@register_plugin
class TrainingDataExtraction(LMAttack):
    """Precision at ``k`` of samples ranked by ``score`` (memorised: containing one of
    ``data.secrets`` verbatim) against ``k`` random samples.

    Args:
        samples: samples generated (duplicates are dropped before ranking).
        k: how many of the top-ranked samples are judged.
        score: ``loss``, ``zlib``, ``min_k``, ``window`` or ``lowercase`` (see
            :mod:`advlab.lm.scores`).
        top_k: top-k sampling.
        temperature: sampling temperature (below 1 concentrates the samples on what the
            model finds most likely, memorised text included).
        length: tokens per sample.
        seed: seed of the sampling.
    """

    name: ClassVar[str] = "lm_training_data_extraction"
    paper: ClassVar[str] = "Carlini et al. 2021, Extracting Training Data from Large Language Models, arXiv:2012.07805"  # fmt: skip
    summary: ClassVar[str] = "generate, rank by perplexity or zlib ratio, keep memorised text"
    tags: ClassVar[frozenset[str]] = frozenset({"threat:inference"})
    flags: ClassVar[frozenset[str]] = frozenset({"randomized"})
    requires: ClassVar[Access] = Access.SCORES
    fast_params: ClassVar[dict[str, object]] = {
        "samples": 96,
        "k": 16,
        "length": 24,
        "temperature": 0.5,
    }

    def __init__(
        self,
        *,
        samples: int = 1000,
        k: int = 100,
        score: str = "zlib",
        top_k: int = 40,
        temperature: float = 1.0,
        length: int = 48,
        seed: int = 0,
    ) -> None:
        self.samples = samples
        self.k = k
        self.score = score
        self.top_k = top_k
        self.temperature = temperature
        self.length = length
        self.seed = seed

    def _validate(self) -> None:
        super()._validate()
        self._positive(
            samples=self.samples, k=self.k, top_k=self.top_k, length=self.length,
            temperature=self.temperature,
        )  # fmt: skip
        if self.score not in SCORES:
            raise ConfigError(f"{self.name}: score must be one of {', '.join(SCORES)}")

    def _attack(self, target: LMTarget, data: LMData) -> LMResult:
        self._need("secrets", data.secrets)
        run = extract(
            target.model, target.tokenizer, data.secrets, n=self.samples, ks=(self.k,),
            seed=self.seed, top_k=self.top_k, length=self.length, temperature=self.temperature,
            prompts=tuple(data.extraction_prompts) or ("",),
        )  # fmt: skip
        k = min(self.k, len(run.samples))
        if k < self.k:  # fewer unique samples than k: judge them all
            run = extract(
                target.model, target.tokenizer, data.secrets, n=self.samples, ks=(k,),
                seed=self.seed, top_k=self.top_k, length=self.length,
                prompts=tuple(data.extraction_prompts) or ("",),
            )  # fmt: skip
        return LMResult(
            metric=f"precision_at_{k}",
            value=run.precision[self.score][k],
            baseline=run.precision["random"][k],
            details={
                "unique_samples": len(run.samples),
                "memorised": int(run.memorised.sum()),
                "precision": {s: p[k] for s, p in run.precision.items()},
            },
        )

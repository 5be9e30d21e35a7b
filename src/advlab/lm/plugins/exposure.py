"""Canary exposure as a plugin: how far above chance the model ranks each planted secret.

Carlini, Liu, Erlingsson, Kos & Song 2019, "The Secret Sharer: Evaluating and Testing
Unintended Memorization in Neural Networks", USENIX Security, arXiv:1802.08232. The measure
is :func:`advlab.lm.exposure.exposure`.
"""

from __future__ import annotations

import random
from typing import ClassVar

from advlab.access import Access
from advlab.errors import ConfigError
from advlab.lm.attack import LMAttack, LMData, LMResult
from advlab.lm.corpus import Canary, format_secret
from advlab.lm.exposure import exposure
from advlab.lm.target import LMTarget
from advlab.registry import register_plugin

METHODS = ("auto", "exact", "skew-normal")


@register_plugin
class CanaryExposure(LMAttack):
    """Exposure of each of ``data.canaries``; the value is the exposure of the most repeated
    one, the baseline the mean exposure of ``fresh`` secrets of the same space that were
    never planted (behind the same prefix).

    Args:
        method: ``exact`` enumeration, the ``skew-normal`` estimate, or ``auto``.
        samples: candidates sampled by the skew-normal estimate.
        fresh: never-planted secrets measured for the baseline.
        seed: seed of the sampled candidates and of the fresh secrets.
    """

    name: ClassVar[str] = "canary_exposure"
    paper: ClassVar[str] = "Carlini et al. 2019, The Secret Sharer, arXiv:1802.08232"
    summary: ClassVar[str] = "rank of a planted secret among all candidates (bits of exposure)"
    tags: ClassVar[frozenset[str]] = frozenset({"threat:inference"})
    flags: ClassVar[frozenset[str]] = frozenset({"randomized"})
    requires: ClassVar[Access] = Access.SCORES
    fast_params: ClassVar[dict[str, object]] = {"method": "skew-normal", "samples": 400}

    def __init__(
        self, *, method: str = "auto", samples: int = 5000, fresh: int = 3, seed: int = 0
    ) -> None:
        self.method = method
        self.samples = samples
        self.fresh = fresh
        self.seed = seed

    def _validate(self) -> None:
        super()._validate()
        self._positive(samples=self.samples, fresh=self.fresh)
        if self.method not in METHODS:
            raise ConfigError(f"{self.name}: method must be one of {', '.join(METHODS)}")

    def _attack(self, target: LMTarget, data: LMData) -> LMResult:
        self._need("canaries", data.canaries)
        kw = {"method": self.method, "samples": self.samples, "seed": self.seed}
        exp = [exposure(target.model, target.tokenizer, c, **kw) for c in data.canaries]  # type: ignore[arg-type]
        top = max(data.canaries, key=lambda c: c.repeats)
        planted = {c.secret for c in data.canaries if c.prefix == top.prefix}
        rng = random.Random(self.seed)
        fresh: list[Canary] = []
        while len(fresh) < self.fresh:
            s = format_secret(rng.randrange(top.space), top.digits)
            if s not in planted:
                fresh.append(Canary(top.prefix, s, 0, top.digits))
        base = [exposure(target.model, target.tokenizer, c, **kw).exposure for c in fresh]  # type: ignore[arg-type]
        return LMResult(
            metric="exposure_bits",
            value=next(e.exposure for e, c in zip(exp, data.canaries, strict=True) if c is top),
            baseline=sum(base) / len(base),
            details={
                "max_exposure": top.digits * 3.321928094887362,
                "by_repeats": {str(e.repeats): e.exposure for e in exp},
                "ranks": {str(e.repeats): e.rank for e in exp},
                "fresh": base,
            },
        )

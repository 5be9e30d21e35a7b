"""The base of the attacks on a language model itself (plugin family ``lm``).

Every such attack is one class with keyword-only parameters (the plugin contract) and one
verb, :meth:`LMAttack.run` ``(target, data) -> LMResult``. ``run`` owns the bookkeeping once
for all of them: the access check, seeding, the query meter (every sequence the model sees
while the attack runs, see :mod:`advlab.lm.target`), timing and the result's common fields;
subclasses implement :meth:`LMAttack._attack`.

Every result states one figure of merit (``metric``, ``value``) next to the same figure for
an attacker who does nothing useful (``baseline``: the unattacked suffix, a random sample, a
coin, a random subspace), measured in the same run; an attack works when ``value`` beats
``baseline``.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, final

import torch

from advlab.access import Access
from advlab.errors import AccessError, InputError
from advlab.lm.corpus import Canary
from advlab.lm.target import LMTarget
from advlab.plugin import Plugin
from advlab.results import Result


@dataclass(frozen=True)
class ForcePrompt:
    """``stem + SUFFIX + after`` should make the model say ``target``."""

    stem: str
    after: str
    target: str


@dataclass
class LMData:
    """What an attack on a language model may be given; each attack reads its part and says
    when that part is missing."""

    prompts: list[ForcePrompt] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    """High-entropy training strings (to judge extracted samples as memorised)."""
    canaries: list[Canary] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    non_members: list[str] = field(default_factory=list)
    extraction_prompts: list[str] = field(default_factory=lambda: [""])


@dataclass
class LMResult(Result):
    """One figure of merit against the do-nothing baseline, plus the attack's details."""

    type_name: ClassVar[str] = "lm"
    metric: str = ""
    value: float = 0.0
    baseline: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        """The attack beat the do-nothing baseline."""
        return self.value > self.baseline

    def summary(self) -> dict[str, Any]:
        return {
            **super().summary(),
            "metric": self.metric,
            "value": round(self.value, 6),
            "baseline": round(self.baseline, 6),
            "success": self.success,
        }


class LMAttack(Plugin):
    """Base of the ``lm`` family: ``run(target, data) -> LMResult``."""

    family: ClassVar[str] = "lm"
    requires: ClassVar[Access] = Access.SCORES
    seed: int

    @classmethod
    def derived_tags(cls) -> set[str]:
        return {f"access:{cls.requires.name.lower()}", "modality:text", "threat:llm"}

    @final
    def run(self, target: LMTarget, data: LMData) -> LMResult:
        """Check access, seed, meter and time the attack; fill the result's common fields."""
        if not isinstance(target, LMTarget):
            raise InputError(f"{self.name}: the target must be an LMTarget, got {type(target)}")
        if target.access < self.requires:
            raise AccessError(
                f"{self.name} needs {self.requires.name.lower()} access; the target grants "
                f"{target.access.name.lower()}"
            )
        self.check_params()
        torch.manual_seed(self.seed)
        t0 = time.perf_counter()
        with target.metered() as meter, torch.no_grad():
            q0, g0 = meter.queries, meter.gradient_calls
            res = self._attack(target, data)
        res.attack = self.name
        res.params = self.get_params()
        res.seed = self.seed
        res.queries = meter.queries - q0
        res.gradient_calls += meter.gradient_calls - g0
        res.seconds = time.perf_counter() - t0
        res.target = target.describe()
        return res

    def _validate(self) -> None:
        """Parameter checks shared by the family (subclasses extend)."""
        self._non_negative_int(seed=self.seed)

    @abstractmethod
    def _attack(self, target: LMTarget, data: LMData) -> LMResult:
        """The algorithm (under ``torch.no_grad``; the meter counts every forward pass)."""

    def _need(self, what: str, value: Any) -> None:
        if not value:
            raise InputError(f"{self.name} needs data.{what} (none given)")

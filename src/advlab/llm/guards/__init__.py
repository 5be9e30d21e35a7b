"""Guards: defenses of LLM applications that wrap a chat target or a vulnerable app.

Input guards: :class:`PerplexityFilter` (Jain et al. 2023), :class:`InjectionClassifier`
(a trained classifier), :class:`Spotlighting` (Hines et al. 2024: delimiting, datamarking,
encoding of untrusted content) and :class:`SandwichDefense`. Output guards:
:class:`SecretFilter` (exact, normalised and encoded secrets redacted) and
:class:`UrlAllowList` (links and images to hosts not allowed removed). Each is a defense
plugin (``advlab list defense``); :func:`guard` and :meth:`Guard.apply` wrap a target or a
:class:`~advlab.llm.ChatApp`; :func:`~advlab.llm.guards.measure.measure_guard` measures
one: attack success before and after, false refusals, added latency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from advlab._lazy import lazy_exports

if TYPE_CHECKING:
    from advlab.llm.guards.base import (
        Guard,
        GuardContext,
        GuardedTarget,
        GuardEvent,
        Verdict,
        guard,
    )
    from advlab.llm.guards.classifier import InjectionClassifier
    from advlab.llm.guards.measure import GuardReport, measure_guard
    from advlab.llm.guards.perplexity import PerplexityFilter
    from advlab.llm.guards.sandwich import SandwichDefense
    from advlab.llm.guards.secret_filter import SecretFilter
    from advlab.llm.guards.spotlight import Spotlighting
    from advlab.llm.guards.url_allowlist import UrlAllowList

_BASE = "advlab.llm.guards.base"
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Guard": _BASE,
        "GuardContext": _BASE,
        "GuardedTarget": _BASE,
        "GuardEvent": _BASE,
        "Verdict": _BASE,
        "guard": _BASE,
        "InjectionClassifier": "advlab.llm.guards.classifier",
        "GuardReport": "advlab.llm.guards.measure",
        "measure_guard": "advlab.llm.guards.measure",
        "PerplexityFilter": "advlab.llm.guards.perplexity",
        "SandwichDefense": "advlab.llm.guards.sandwich",
        "SecretFilter": "advlab.llm.guards.secret_filter",
        "Spotlighting": "advlab.llm.guards.spotlight",
        "UrlAllowList": "advlab.llm.guards.url_allowlist",
    },
)

__all__ = [
    "Guard",
    "GuardContext",
    "GuardEvent",
    "GuardReport",
    "GuardedTarget",
    "InjectionClassifier",
    "PerplexityFilter",
    "SandwichDefense",
    "SecretFilter",
    "Spotlighting",
    "UrlAllowList",
    "Verdict",
    "guard",
    "measure_guard",
]

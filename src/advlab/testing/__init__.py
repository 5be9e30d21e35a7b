"""The conformance kit: checks every advlab plugin must pass, shipped for plugin authors.

Like scikit-learn's ``check_estimator`` / ``parametrize_with_checks``::

    from advlab.testing import check_plugin, parametrize_with_checks

    check_plugin(MyAttack)                 # raises ConformanceError listing failures

    @parametrize_with_checks([MyAttack])   # one pytest test per check, ids "name-check"
    def test_my_attack(plugin, check):
        check(plugin)

Checks come in lists per family (:data:`CHECKS`): common hygiene for every plugin, then
evasion, extraction, inference, poisoning and defense checks (LLM guards: :mod:`advlab.testing.guard`),
each ending in an efficacy floor with a stated rule (see each module). New families add theirs with
:func:`register_checks`. A plugin's ``fast_params`` make it fast; its
``expected_failures`` (check name -> reason) mark checks it is known to fail.
"""

from __future__ import annotations

from advlab.testing._registry import CHECKS, Check, check, register_checks
from advlab.testing.api import (
    CheckReport,
    ConformanceError,
    check_plugin,
    checks_for,
    parametrize_with_checks,
)

__all__ = [
    "CHECKS",
    "Check",
    "CheckReport",
    "ConformanceError",
    "check",
    "check_plugin",
    "checks_for",
    "parametrize_with_checks",
    "register_checks",
]

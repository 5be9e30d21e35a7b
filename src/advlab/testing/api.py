"""``check_plugin`` and ``parametrize_with_checks``: run the kit on one plugin or many."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from advlab.testing import (
    common,
    defense,
    evasion,
    extraction,
    guard,
    inference,
    llm,
    lm,
    malware,
    poisoning,
)
from advlab.testing._registry import CHECKS, Check

log = logging.getLogger(__name__)

_BUILTIN = (
    common,
    evasion,
    malware,
    extraction,
    inference,
    poisoning,
    defense,
    guard,
    llm,
    lm,
)  # registers their lists


class ConformanceError(AssertionError):
    """A plugin failed conformance checks (the message lists them)."""


@dataclass
class CheckReport:
    """Outcome per check: ``passed``, ``failed`` (check -> error), ``xfailed`` (check ->
    the declared reason) and ``xpassed`` (checks declared failing that passed)."""

    plugin: str
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    xfailed: dict[str, str] = field(default_factory=dict)
    xpassed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.xpassed

    def __str__(self) -> str:
        lines = [
            f"{self.plugin}: {len(self.passed)} passed, {len(self.failed)} failed, "
            f"{len(self.xfailed)} expected failures, {len(self.xpassed)} unexpected passes"
        ]
        lines += [f"  FAILED {k}: {v.strip().splitlines()[-1]}" for k, v in self.failed.items()]
        lines += [f"  XPASS {k}: remove it from expected_failures" for k in self.xpassed]
        return "\n".join(lines)


def _family(cls: type[Any]) -> str:
    return str(getattr(cls, "family", "") or "")


def checks_for(plugin: Any) -> list[Check]:
    """The checks that apply to a plugin class or instance: the common ones, then its family's."""
    cls = plugin if isinstance(plugin, type) else type(plugin)
    out = [c for fam in ("*", _family(cls)) for c in CHECKS.get(fam, []) if c.applies(cls)]
    return out


def instance(plugin: Any) -> Any:
    """A class becomes an instance built from its ``fast_params``; an instance is kept."""
    if isinstance(plugin, type):
        return plugin(**dict(getattr(plugin, "fast_params", {}) or {}))
    return plugin


def expected_failures(plugin: Any) -> dict[str, str]:
    """The plugin's declared expected failures, validated: each names a check that applies
    and gives a reason."""
    cls = plugin if isinstance(plugin, type) else type(plugin)
    declared = dict(getattr(cls, "expected_failures", {}) or {})
    names = {c.name for c in checks_for(cls)}
    for name, reason in declared.items():
        if name not in names:
            raise ValueError(f"{cls.__name__}.expected_failures names unknown check {name!r}")
        if not str(reason).strip():
            raise ValueError(f"{cls.__name__}.expected_failures[{name!r}] needs a reason")
    return declared


@contextmanager
def one_thread() -> Iterator[None]:
    """The kit's models are tiny: one torch thread is as fast and never oversubscribes."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def run_check(check: Check, plugin: Any) -> None:
    """Run one check on a plugin instance (one torch thread)."""
    with one_thread():
        check(plugin)


def check_plugin(plugin: Any, *, raise_on_failure: bool = True) -> CheckReport:
    """Run every applicable check on a plugin class (built from its ``fast_params``) or
    instance. Declared expected failures are recorded as such; an expected failure that
    passes is reported (remove it). Raises :class:`ConformanceError` listing the failures
    unless ``raise_on_failure=False``."""
    inst = instance(plugin)
    xfail = expected_failures(plugin)
    report = CheckReport(plugin=str(getattr(inst, "name", type(inst).__name__)))
    for c in checks_for(inst):
        try:
            run_check(c, inst)
        except Exception:
            if c.name in xfail:
                report.xfailed[c.name] = xfail[c.name]
            else:
                report.failed[c.name] = traceback.format_exc()
            continue
        (report.xpassed if c.name in xfail else report.passed).append(c.name)
    log.info("%s", report)
    if raise_on_failure and not report.ok:
        raise ConformanceError(str(report))
    return report


def parametrize_with_checks(plugins: Iterable[Any]) -> Any:
    """A ``pytest.mark.parametrize`` over ``(plugin, check)`` with ids ``name-check``;
    declared expected failures are strict ``xfail`` marks with their reason::

        @parametrize_with_checks([MyAttack])
        def test_conformance(plugin, check):
            check(plugin)
    """
    import pytest

    params = []
    for p in plugins:
        inst = instance(p)
        xfail = expected_failures(p)
        name = str(getattr(inst, "name", type(inst).__name__))
        for c in checks_for(inst):
            marks = (
                [pytest.mark.xfail(reason=xfail[c.name], strict=True)] if c.name in xfail else []
            )
            params.append(pytest.param(inst, _Bound(c), id=f"{name}-{c.name}", marks=marks))
    return pytest.mark.parametrize("plugin, check", params)


@dataclass(frozen=True)
class _Bound:
    """A check as pytest receives it: calling it runs the check with one torch thread."""

    check: Check

    def __call__(self, plugin: Any) -> None:
        run_check(self.check, plugin)

    def __repr__(self) -> str:
        return self.check.name

"""The attacks on the tiny GPT as plugins: discovered, and passing the conformance kit."""

from __future__ import annotations

from typing import Any

import pytest

from advlab.access import Access
from advlab.errors import InputError
from advlab.lm.attack import LMData
from advlab.registry import all_plugins, get_plugin
from advlab.testing import checks_for, parametrize_with_checks
from advlab.testing.lm import lm_data, lm_target

LM_PLUGINS = list(all_plugins("lm")["lm"].values())


def test_every_lm_attack_is_discovered() -> None:
    names = {c.name for c in LM_PLUGINS}
    assert names >= {"gcg", "suffix_random_search", "lm_training_data_extraction",
                     "canary_exposure", "lm_membership", "lm_logit_svd"}  # fmt: skip


@pytest.mark.parametrize("cls", LM_PLUGINS, ids=lambda c: c.name)
def test_every_lm_attack_has_the_family_checks(cls: type[Any]) -> None:
    names = {c.name for c in checks_for(cls)}
    assert {"lm_efficacy_floor", "lm_counts_queries_and_respects_the_budget"} <= names


@parametrize_with_checks(LM_PLUGINS)
def test_kit(plugin: Any, check: Any) -> None:
    check(plugin)


def test_missing_data_and_wrong_targets_are_named() -> None:
    gcg = get_plugin("lm", "gcg")(steps=1)
    with pytest.raises(InputError, match="data.prompts"):
        gcg.run(lm_target(), LMData())
    with pytest.raises(InputError, match="LMTarget"):
        gcg.run(object(), lm_data())  # type: ignore[arg-type]


def test_the_meter_counts_gcg_sequences() -> None:
    """GCG's own count (a gradient as two passes) and the meter's (one per sequence sent
    forward) agree once the meter's gradient passes are counted twice."""
    cls = get_plugin("lm", "gcg")
    data = LMData(prompts=lm_data().prompts[:1])
    res = cls(steps=5, candidates=16, suffix_length=4).run(lm_target(Access.GRADIENTS), data)
    own = res.details["forward_passes"][0]
    # the initial-suffix baseline adds one sequence per prompt
    assert res.queries + res.gradient_calls == own + len(data.prompts)

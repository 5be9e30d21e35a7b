"""Common conformance checks run over every registered defense.

A defense is tested the moment it is registered: the constructor contract and metadata for
all of them; for those that wrap targets (input transforms, output defenses, detectors that
guard a target, randomized smoothing, query monitors) the wrapped target answers with the
right shapes, stays on the shared query meter, never gains access, names the defense in
``describe()``, and is repeatable exactly when it declares itself ``deterministic``.
Budgets are shrunk through generic parameter names so the suite stays fast.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch

from advlab.access import Access
from advlab.plugin import metadata
from advlab.registry import DEFENSES, discover

discover()  # every defense module registers (the package exports its names lazily)

ROLES = {"preprocess", "postprocess", "detector", "training", "data"}
THREATS = {"evasion", "extraction", "inference", "poisoning"}
FAST: dict[str, Any] = {"n": 32, "n0": 8, "steps": 5}


def make(name: str) -> Any:
    cls = DEFENSES[name]
    kw = {k: v for k, v in FAST.items() if k in cls._param_names()}
    return cls(**kw)


def test_the_registry_holds_every_defense_family():
    roles = {cls.role for cls in DEFENSES.values()}
    assert {"preprocess", "postprocess", "detector", "training"} <= roles
    assert len(DEFENSES) >= 15


@pytest.mark.parametrize("name", sorted(DEFENSES))
def test_constructor_contract_and_metadata(name):
    cls = DEFENSES[name]
    d = cls()  # all defaulted, no work done
    params = d.get_params()
    assert set(params) == set(cls._param_names())
    assert d.clone().get_params() == params
    json.dumps(params, default=str)
    assert cls.name == name and cls.paper and cls.summary
    assert cls.role in ROLES and cls.threat in THREATS
    assert f"threat:{cls.threat}" in metadata(cls).tags


def _wrapped(name: str, target: Any, x: np.ndarray) -> Any:
    d = make(name)
    if hasattr(d, "fit") and name == "feature_squeezing":
        d.fit(target, x)  # a detector guarding a target needs its threshold first
    if DEFENSES[name].has("wraps_target"):
        return d.apply(target)
    with pytest.raises(TypeError, match=name):  # defenses that do not wrap targets say so
        d.apply(target)
    return None


@pytest.mark.parametrize("name", sorted(DEFENSES))
def test_wrapped_target_contract(name, digits_bundle, small_batch):
    x_np, _ = small_batch
    x = torch.as_tensor(x_np[:8])
    target = digits_bundle.target(device="cpu")
    wrapped = _wrapped(name, target, x_np)
    if wrapped is None:
        return
    assert wrapped.access <= target.access
    assert wrapped.describe()["defense"]["name"] == name
    q0 = target.meter.queries
    labels = wrapped.labels(x)
    assert target.meter.queries > q0  # the defended target spends the original's budget
    assert labels.shape == (len(x),)
    assert int(labels.min()) >= 0 and int(labels.max()) < wrapped.num_classes
    if wrapped.access >= Access.SCORES:
        s1 = wrapped.scores(x)
        assert s1.shape == (len(x), wrapped.num_classes)
        assert bool(torch.isfinite(s1).all())
        s2 = wrapped.scores(x)
        if wrapped.deterministic:
            torch.testing.assert_close(s1, s2)
    if wrapped.access >= Access.GRADIENTS:
        y = torch.as_tensor(small_batch[1][:8])
        g, _ = wrapped.loss_gradient(x, y)
        assert g.shape == x.shape and bool(torch.isfinite(g).all())


def test_target_defenses_do_wrap(digits_bundle, small_batch):
    """The wrapping checks above are not vacuous: these defenses return targets."""
    x_np, _ = small_batch
    wrapping = {
        name
        for name in DEFENSES
        if _wrapped(name, digits_bundle.target(device="cpu"), x_np) is not None
    }
    assert {
        "bit_depth",
        "median_smoothing",
        "gaussian_noise",
        "feature_squeezing",
        "randomized_smoothing",
        "rounding",
        "top_k",
        "label_only",
        "reverse_sigmoid",
        "gaussian_output_noise",
        "prediction_poisoning",
        "query_monitor",
    } <= wrapping


def test_randomized_output_noise_is_never_deterministic(digits_bundle):
    from advlab.defenses.output import GaussianOutputNoise, Rounding

    target = digits_bundle.target(device="cpu")
    for seed in (0, None):  # unseeded noise is just as random
        assert not GaussianOutputNoise(seed=seed).apply(target).deterministic
    assert Rounding().apply(target).deterministic

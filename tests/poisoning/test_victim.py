"""The victim pipeline: seeds, executors, the PoisoningResult."""

from __future__ import annotations

from typing import Any

import numpy as np

from advlab.attacks.poisoning import BadNets, PoisoningResult, evaluate_poisoning
from advlab.models import TrainConfig
from advlab.results import Result

MLP_SPEC = {"arch": "mlp", "in_features": 64, "num_classes": 10, "hidden": [32]}


def _run(digits: Any, executor: str, **kw: Any) -> PoisoningResult:
    p = BadNets(budget=0.05, target_class=0).poison(digits.x_train, digits.y_train)
    return evaluate_poisoning(
        p,
        digits.x_train,
        digits.y_train,
        digits.x_test,
        digits.y_test,
        spec=MLP_SPEC,
        train=TrainConfig(epochs=15, lr=3e-3),
        seeds=2,
        seed=1,
        executor=executor,
        **kw,
    )


def test_pipeline_serial_equals_processes_and_round_trips(digits: Any) -> None:
    a = _run(digits, "serial")
    b = _run(digits, "processes", executor_kwargs={"workers": 1})
    assert a.success == b.success and a.clean_accuracy == b.clean_accuracy
    assert len(a.seeds) == 2 and a.seeds[0] != a.seeds[1]
    assert a.evaluation == "backdoor" and a.n_poison == 67
    s = a.summary()
    assert s["success_mean"] > s["baseline_success_mean"]  # the backdoor is learned
    assert abs(s["clean_drop_mean"]) < 0.05
    back = Result.from_json(a.to_json())
    assert isinstance(back, PoisoningResult) and back.success == a.success
    assert back.clean_drop_mean == a.clean_drop_mean


def test_augmentation_mitigation_runs(digits: Any) -> None:
    r = _run(digits, "serial", augment="shift", baseline=False)
    assert r.victim["augment"] == "shift" and not r.baseline_accuracy
    assert all(0.0 <= s <= 1.0 for s in r.success)
    assert np.isfinite(r.success_mean)


def test_pipeline_on_a_local_ray_equals_serial(digits: Any) -> None:
    """Poisoning victims retrained on Ray give the serial executor's numbers."""
    import ray

    a = _run(digits, "serial")
    try:
        b = _run(digits, "ray", executor_kwargs={"num_cpus": 2})
    finally:
        ray.shutdown()
    assert a.success == b.success and a.clean_accuracy == b.clean_accuracy


def test_vectorized_victims_equal_serial_ones_with_full_batches(digits: Any) -> None:
    """One full batch per epoch leaves no shuffling to differ: the stacked victims are the
    serial victims (same seeds, same initial weights, same updates)."""
    kw = {"train": TrainConfig(epochs=6, lr=1e-2, batch_size=4096)}
    p = BadNets(budget=0.05, target_class=0).poison(digits.x_train, digits.y_train)
    args = (p, digits.x_train, digits.y_train, digits.x_test, digits.y_test)
    a = evaluate_poisoning(*args, spec=MLP_SPEC, seeds=2, seed=1, executor="serial", **kw)
    b = evaluate_poisoning(*args, spec=MLP_SPEC, seeds=2, seed=1, executor="vectorized", **kw)
    np.testing.assert_allclose(b.clean_accuracy, a.clean_accuracy, atol=2 / len(digits.y_test))
    np.testing.assert_allclose(
        b.baseline_accuracy, a.baseline_accuracy, atol=2 / len(digits.y_test)
    )
    np.testing.assert_allclose(b.success, a.success, atol=0.01)


def test_vectorized_victims_learn_the_backdoor_and_refuse_what_they_cannot_do(
    digits: Any,
) -> None:
    import pytest

    from advlab.errors import ConfigError

    r = _run(digits, "vectorized")
    s = r.summary()
    assert s["success_mean"] > s["baseline_success_mean"] + 0.5
    assert abs(s["clean_drop_mean"]) < 0.05
    with pytest.raises(ConfigError, match="do not augment"):
        _run(digits, "vectorized", augment="shift")

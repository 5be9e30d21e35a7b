"""Signal extraction: transforms, reference-model training, executors, caching, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from inference_helpers import MiaSetup, small_task

from advlab.attacks.inference import (
    Augment,
    FunctionTrainer,
    LiRA,
    LossThreshold,
    ReferenceModels,
    SklearnMLPTrainer,
    collect_signals,
)
from advlab.attacks.inference.signals import (
    as_log_scores,
    balanced_membership,
    cross_entropy,
    logit_confidence,
    mlp_logits,
    true_class_prob,
)
from advlab.errors import InputError
from advlab.targets.function import FunctionClassifier

TINY = SklearnMLPTrainer(hidden=(16,), max_iter=30, lr=1e-2)


def test_logit_confidence_float64_and_stable() -> None:
    z = np.array([[[60.0, 0.0, 0.0]], [[0.0, 2.0, 0.0]]])
    y = np.array([0, 0])
    phi = logit_confidence(z, y)
    assert phi.dtype == np.float64
    # p_y rounds to 1 in float64 at logit gap 60, yet phi is exact: 60 - log(2)
    assert phi[0, 0] == pytest.approx(60 - np.log(2))
    p = 1 / (2 + np.exp(2))
    assert phi[1, 0] == pytest.approx(np.log(p / (1 - p)))
    assert true_class_prob(z, y)[1, 0] == pytest.approx(p)
    assert cross_entropy(z, y)[1, 0] == pytest.approx(-np.log(p))


def test_probabilities_and_logits_give_the_same_scores(mia: MiaSetup) -> None:
    def logits_fn(x: np.ndarray) -> np.ndarray:
        return mlp_logits(mia.model, x, 10)

    def probs_fn(x: np.ndarray) -> np.ndarray:
        z = logits_fn(x)
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    kw = {"input_shape": (20,), "num_classes": 10, "bounds": (0.0, 1.0)}
    t_logits = FunctionClassifier(logits_fn, returns="logits", **kw)
    t_probs = FunctionClassifier(probs_fn, returns="probs", **kw)
    s1 = collect_signals(t_logits, mia.x, mia.y, reference=mia.ref, members=mia.members)
    s2 = collect_signals(t_probs, mia.x, mia.y, reference=mia.ref, members=mia.members)
    # probabilities pass through float32 in the target: compare scores, not bits
    a1, a2 = LiRA().score(s1), LiRA().score(s2)
    assert np.corrcoef(a1, a2)[0, 1] > 0.999
    assert abs(LiRA().infer(s1, n_boot=0).auc - LiRA().infer(s2, n_boot=0).auc) < 0.01
    # declared logits that are really probabilities: warned
    t_wrong = FunctionClassifier(probs_fn, returns="logits", **kw)
    import logging

    logger = logging.getLogger("advlab.attacks.inference.signals")
    seen: list[str] = []
    h = logging.Handler()
    h.emit = lambda rec: seen.append(rec.getMessage())  # type: ignore[method-assign]
    logger.addHandler(h)
    try:
        collect_signals(t_wrong, mia.x[:50], mia.y[:50])
    finally:
        logger.removeHandler(h)
    assert any("declare output='probs'" in m for m in seen)
    with pytest.raises(InputError, match="outside"):
        as_log_scores(np.array([[2.0, -1.0]]), "probs")


def test_nan_target_outputs_name_the_examples(mia: MiaSetup) -> None:
    def bad(x: np.ndarray) -> np.ndarray:
        z = mlp_logits(mia.model, x, 10)
        z[np.abs(x[:, 0] - mia.x[7, 0]) < 1e-7] = np.nan
        return z

    t = FunctionClassifier(bad, returns="logits", input_shape=(20,), num_classes=10)
    with pytest.raises(InputError, match=r"example\(s\): indices \[7\]"):
        collect_signals(t, mia.x[:20], mia.y[:20])


def test_balanced_membership() -> None:
    m = balanced_membership(8, 100, seed=0)
    assert m.shape == (8, 100)
    assert (m.sum(0) == 4).all()
    assert np.array_equal(m, balanced_membership(8, 100, seed=0))
    assert not np.array_equal(m, balanced_membership(8, 100, seed=1))


def test_executors_give_identical_results() -> None:
    x, y, members = small_task(300)
    base = {"trainer": TINY, "n_models": 4, "seed": 3, "augment": Augment(kind="noise", n=2)}
    serial = ReferenceModels(**base, executor="serial").run(x, y)
    procs = ReferenceModels(**base, executor="processes", executor_options={"workers": 2}).run(x, y)
    assert serial.logits.shape == (4, len(x), 2, 10)
    assert np.array_equal(serial.logits, procs.logits)
    assert np.array_equal(serial.ref_in, procs.ref_in)
    assert serial.key == procs.key
    # a different seed changes the models
    other = ReferenceModels(**{**base, "seed": 4}).run(x, y)
    assert not np.array_equal(other.logits, serial.logits)


def test_process_start_methods_identical_and_validated() -> None:
    import multiprocessing as mp

    from advlab.errors import ConfigError
    from advlab.parallel import ProcessExecutor

    x, y, _ = small_task(200)
    base = {"trainer": TINY, "n_models": 2, "seed": 5}
    runs = {
        m: ReferenceModels(**base, executor=ProcessExecutor(workers=1, start_method=m)).run(x, y)
        for m in ("spawn", "forkserver")
    }
    assert np.array_equal(runs["spawn"].logits, runs["forkserver"].logits)
    assert np.array_equal(runs["spawn"].logits, ReferenceModels(**base).run(x, y).logits)
    default = ProcessExecutor()._context(abs)
    want = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    assert default.get_start_method() == want
    with pytest.raises(ConfigError, match="start_method"):
        ProcessExecutor(start_method="fork").map(abs, [1])


@pytest.mark.slow
def test_ray_executor_identical_scores() -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed")
    import ray

    x, y, members = small_task(200)
    base = {"trainer": TINY, "n_models": 2, "seed": 3}
    serial = ReferenceModels(**base).run(x, y)
    try:
        via_ray = ReferenceModels(**base, executor="ray", executor_options={"num_cpus": 2}).run(
            x, y
        )
    finally:
        ray.shutdown()
    assert np.array_equal(serial.logits, via_ray.logits)


_CALLS: list[int] = []


def _user_train(x: np.ndarray, y: np.ndarray, seed: int):  # type: ignore[no-untyped-def]
    _CALLS.append(seed)
    model = TINY.fit(x, y, seed=seed, num_classes=10)
    return lambda q: model.predict_proba(q)


def test_cache_resumes_and_user_trainer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    x, y, members = small_task(200)
    trainer = FunctionTrainer(fn=_user_train, output="probs", version="1")
    rm = ReferenceModels(trainer=trainer, n_models=3, seed=0, cache_dir=tmp_path)
    _CALLS.clear()
    first = rm.run(x, y)
    assert len(_CALLS) == 3 and len(list(tmp_path.glob("ref-*.npy"))) == 3
    # simulate an interrupted run: drop one model's file; only that one retrains
    sorted(tmp_path.glob("ref-*.npy"))[0].unlink()
    _CALLS.clear()
    second = rm.run(x, y)
    assert len(_CALLS) == 1
    np.testing.assert_allclose(first.logits, second.logits)
    # the key changes with the data (content-addressed)
    _CALLS.clear()
    rm.run(x[::-1].copy(), y[::-1].copy())
    assert len(_CALLS) == 3
    # keep_models returns the trained predictors
    kept = ReferenceModels(trainer=trainer, n_models=2, seed=0, keep_models=True).run(x, y)
    assert kept.models is not None and len(kept.models) == 2
    assert kept.models[0](x[:3]).shape == (3, 10)


def test_signals_save_load(mia: MiaSetup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = mia.signals.save(tmp_path / "sig.npz")
    from advlab.attacks.inference import Signals

    back = Signals.load(path)
    np.testing.assert_array_equal(back.target_logits, mia.signals.target_logits)
    np.testing.assert_array_equal(back.ref_in, mia.signals.ref_in)
    assert np.array_equal(LossThreshold().score(back), LossThreshold().score(mia.signals))


def test_augment_shapes() -> None:
    x = np.random.default_rng(0).random((5, 1, 8, 8)).astype(np.float32)
    a = Augment(kind="flip_shift", n=4).apply(x)
    assert a.shape == (4, 5, 1, 8, 8)
    np.testing.assert_array_equal(a[0], x)
    np.testing.assert_array_equal(a[1], x[..., ::-1])
    n = Augment(kind="noise", n=3, sigma=0.1, seed=1).apply(x[:, 0, 0])
    assert n.shape == (3, 5, 8) and n.min() >= 0 and n.max() <= 1

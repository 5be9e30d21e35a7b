"""Defense checks, by role: target-wrapping defenses (preprocess, postprocess, detectors
that guard a target), training-time defenses, and data-level poison detectors. Guards of
LLM applications (``threat = "llm"``) get their own checks (:mod:`advlab.testing.guard`).

Efficacy floors (rules):

- **wrapping, evasion threat**: a fixed attack (PGD, linf eps 0.15, 10 steps, crafted on the
  undefended digits CNN) succeeds on fewer points against the defended target than against
  the undefended one, by :data:`MARGIN`. A point counts as broken when the defended target
  answers a wrong class; a rejection (a label beyond the classes) is not a break.
- **wrapping, other threats** (output defenses, query monitors): what an attacker receives
  changes measurably: on test inputs and on uniform-noise queries (what a data-free thief
  sends), the defended answers differ from the undefended ones (scores by more than 1e-3,
  or labels, or less access), or queries are refused.
- **training**: a victim trained with the defense on a BadNets-poisoned digits set has a
  lower backdoor success rate than the same victim trained without it.
- **poison detectors**: on the same poisoned set they flag poisons at a higher rate than
  clean points (``detect``, reading a CNN trained on the set, with the detector's default
  threshold rule; a detector that has ``detect`` is checked through it); input-level detectors
  with only ``fit`` / ``detect_inputs`` flag triggered test inputs more often than clean ones;
  trigger-reversal detectors with only ``analyse`` flag the backdoor's target class.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from advlab.access import Access
from advlab.errors import AccessError
from advlab.testing import fixtures
from advlab.testing._compat import ROLES, flags_of, role_of
from advlab.testing._registry import check, register_checks

MARGIN = 0.05
"""Drop in a fixed attack's success rate that counts as measurable."""

THREATS = ("evasion", "extraction", "inference", "poisoning", "llm")


def classic(cls: type[Any]) -> bool:
    """Whether a defense guards a classifier (LLM guards have their own checks:
    :mod:`advlab.testing.guard`)."""
    return getattr(cls, "threat", "") != "llm"


def wraps(cls: type[Any]) -> bool:
    """Whether a defense wraps (classifier) targets (flag ``wraps_target``, or an own ``apply``)."""
    from advlab.defenses.base import Defense

    own = getattr(cls, "apply", None) is not getattr(Defense, "apply", None)
    return classic(cls) and (
        "wraps_target" in flags_of(cls) or (own and role_of(cls) != "training")
    )


def wrapped(plugin: Any, target: Any) -> Any:
    """``plugin.apply(target)``, fitting it on clean inputs first when it has ``fit``."""
    fit = getattr(plugin, "fit", None)
    if callable(fit) and list(inspect.signature(fit).parameters)[:1] == ["target"]:
        fit(target, fixtures.digits().x_train[:200])
    return plugin.apply(target)


@check("role_and_threat_declared")
def role_and_threat_declared(plugin: Any) -> None:
    assert role_of(plugin) in ROLES, f"role {role_of(plugin)!r} is not one of {ROLES}"
    assert getattr(plugin, "threat", None) in THREATS, f"threat must be one of {THREATS}"


@check("wrapped_target_contract", applies=wraps)
def wrapped_target_contract(plugin: Any) -> None:
    """The defended target answers with the right shapes, spends the original's query
    budget, never gains access, names the defense, and is repeatable when deterministic."""
    x_np, y_np = fixtures.batch(8)
    x = torch.as_tensor(x_np)
    target = fixtures.victim()
    w = wrapped(plugin, target)
    assert w.access <= target.access, "the defense raised access"
    assert w.describe()["defense"]["name"] == plugin.name
    q0 = target.meter.queries
    labels = w.labels(x)
    assert target.meter.queries > q0, "the defended target does not spend the original's budget"
    assert labels.shape == (len(x),)
    assert int(labels.min()) >= 0 and int(labels.max()) < w.num_classes
    if w.access >= Access.SCORES:
        s1 = w.scores(x)
        assert s1.shape == (len(x), w.num_classes) and bool(torch.isfinite(s1).all())
        if w.deterministic:
            torch.testing.assert_close(s1, w.scores(x))
    if w.access >= Access.GRADIENTS:
        g, _ = w.loss_gradient(x, torch.as_tensor(y_np))
        assert g.shape == x.shape and bool(torch.isfinite(g).all())


@lru_cache(maxsize=1)
def _fixed_adversarials() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from advlab.attacks.evasion.pgd import PGD

    x, y = fixtures.batch(48)
    res = PGD(norm="linf", eps=0.15, steps=10, seed=0).run(fixtures.victim(), x, y)
    correct = fixtures.victim().labels(torch.as_tensor(x)).cpu().numpy() == y
    return res.x_adv.cpu().numpy(), y, correct


def _broken(target: Any, x_adv: np.ndarray, y: np.ndarray, keep: np.ndarray, c: int) -> float:
    pred = target.labels(torch.as_tensor(x_adv)).cpu().numpy()
    hit = (pred != y) & (pred >= 0) & (pred < c)
    return float(hit[keep].mean())


def _changes_answers(plugin: Any) -> None:
    ds = fixtures.digits()
    lo, hi = (float(b) for b in ds.bounds)
    noise = np.random.default_rng(0).uniform(lo, hi, size=(48, *ds.input_shape))
    plain, target = fixtures.victim(), fixtures.victim()
    w = wrapped(plugin, target)
    if w.access < plain.access:
        return
    for xs in (ds.x_test[:48], noise.astype(np.float32)):
        x = torch.as_tensor(xs)
        try:
            if w.access >= Access.SCORES:
                diff = (w.scores(x) - plain.scores(x)).abs().max()
                if float(diff) > 1e-3:
                    return
            if not torch.equal(w.labels(x).cpu(), plain.labels(x).cpu()):
                return
        except AccessError:
            return  # refusing queries changes what the attacker gets
    raise AssertionError("the defended target answers exactly like the undefended one")


@check("efficacy_floor", applies=wraps)
def efficacy_floor(plugin: Any) -> None:
    """See the module doc (wrapping defenses)."""
    if getattr(plugin, "threat", "evasion") != "evasion":
        _changes_answers(plugin)
        return
    x_adv, y, correct = _fixed_adversarials()
    plain = fixtures.victim()
    c = plain.num_classes
    before = _broken(plain, x_adv, y, correct, c)
    after = _broken(wrapped(plugin, fixtures.victim()), x_adv, y, correct, c)
    assert after < before - MARGIN, (
        f"a fixed PGD attack breaks {after:.0%} of points through the defense, "
        f"{before:.0%} without it (the floor is a drop of {MARGIN:.0%})"
    )


@lru_cache(maxsize=1)
def _backdoor_set() -> Any:
    """A BadNets set: 5% of digits' training split, all to class 0."""
    from advlab.attacks.poisoning import BadNets

    ds = fixtures.poison_task().ds
    return BadNets(budget=0.05, target_class=0, seed=0).poison(ds.x_train, ds.y_train)


@lru_cache(maxsize=2)
def _backdoor_model(arch: str) -> Any:
    """A victim trained on :func:`_backdoor_set`: ``mlp`` (the kit's poisoning recipe) or
    ``cnn`` (8 epochs; representation-based detectors read its convolutional features)."""
    from advlab.attacks.poisoning import train_victim
    from advlab.models import TrainConfig, default_spec

    task = fixtures.poison_task()
    poisoned = _backdoor_set()
    if arch == "mlp":
        return train_victim(task.spec, poisoned.x, poisoned.y, task.train)
    spec = default_spec(task.ds.input_shape, task.ds.num_classes, arch)
    return train_victim(spec, poisoned.x, poisoned.y, TrainConfig(epochs=8, seed=0))


@check("efficacy_floor_training", applies=lambda cls: role_of(cls) == "training")
def efficacy_floor_training(plugin: Any) -> None:
    """See the module doc (training defenses)."""
    from advlab.attacks.poisoning.victim import attack_success, evaluation_for

    task = fixtures.poison_task()
    ds = task.ds
    poisoned, plain = _backdoor_set(), _backdoor_model("mlp")
    ev = evaluation_for(poisoned, ds.num_classes)
    defended = plugin.train(task.spec, poisoned.x, poisoned.y, task.train)
    before = attack_success(plain, ev, ds.x_test, ds.y_test)
    after = attack_success(defended, ev, ds.x_test, ds.y_test)
    assert after < before, f"backdoor success {after:.0%} with the defense, {before:.0%} without"


@check(
    "efficacy_floor_detection",
    applies=lambda cls: classic(cls) and role_of(cls) in ("detector", "data") and not wraps(cls),
)
def efficacy_floor_detection(plugin: Any) -> None:
    """See the module doc (poison detectors)."""
    from advlab.attacks.poisoning import apply_trigger

    ds = fixtures.poison_task().ds
    poisoned, model = _backdoor_set(), _backdoor_model("mlp")
    if callable(getattr(plugin, "detect", None)):
        model = _backdoor_model("cnn")
        det = plugin.detect(poisoned.x, poisoned.y, model=model, poison_indices=poisoned.indices)
        assert det.recall > det.clean_removed, (
            f"flags {det.recall:.0%} of poisons and {det.clean_removed:.0%} of clean points"
        )
    elif callable(getattr(plugin, "detect_inputs", None)):
        keep = ds.y_test != poisoned.target_class
        clean = ds.x_test[keep]
        plugin.fit(model, ds.x_train[:300])
        on_clean = float(np.mean(plugin.detect_inputs(clean).flagged))
        on_trig = float(
            np.mean(plugin.detect_inputs(apply_trigger(clean, poisoned.trigger)).flagged)
        )
        assert on_trig > on_clean, (
            f"flags {on_trig:.0%} of triggered, {on_clean:.0%} of clean inputs"
        )
    elif callable(getattr(plugin, "analyse", None)):
        res = plugin.analyse(model, ds.x_test[:200], bounds=tuple(ds.bounds))
        assert poisoned.target_class in res.flagged, f"flagged labels {res.flagged}"
    else:
        raise AssertionError("a detector needs detect(), fit()/detect_inputs() or analyse()")


register_checks(
    "defense",
    [
        role_and_threat_declared,
        wrapped_target_contract,
        efficacy_floor,
        efficacy_floor_training,
        efficacy_floor_detection,
    ],
)

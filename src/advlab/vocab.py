"""One vocabulary for parameters and results, and the deprecated aliases of renamed ones.

Every plugin constructor, target, config key and CLI option uses the same words:

========================  ===============================================================
``eps``                   perturbation budget in the unit of ``norm`` (``None``: minimal norm)
``norm``                  ``"linf"`` | ``"l2"`` | ``"l1"``
``steps``                 iterations of an attack's optimisation loop
``step_size``             an attack's own step (the size of one update of the adversarial
                          input, trigger or poison); a *training* learning rate of a surrogate,
                          shadow or victim model stays ``lr`` and comes with ``epochs``
``restarts``              independent starts per point; the best one is kept
``max_queries``           queries an attack may spend **per point** (never a total)
``query_budget``          a **total** number of queries (targets, the query meter, extraction
                          attacks, assessment configs, ``advlab attack --query-budget``)
``budget``                a poisoning budget: the fraction of the training set poisoned
``seed``                  the seed of every random choice
``batch_size``            points per forward / backward batch
========================  ===============================================================

Results say ``robust_accuracy``, ``success``, ``queries`` (points sent forward, a cost),
``gradient_calls`` and ``seconds``.

A parameter that is neither of these keeps a descriptive name (``overshoot``,
``confidence``, ``opacity``, ``failure_probability``); single Greek letters
(``alpha``, ``eta``) and the synonyms in :data:`SYNONYMS` are not used.

The default ``eps`` is :data:`DEFAULT_EPS` = 8/255 for inputs scaled to ``[0, 1]``: the
L-inf budget of the standard CIFAR-10 / ImageNet robustness benchmarks (Madry et al. 2018,
RobustBench), i.e. a change of at most 8 grey levels of 255 per pixel. Every evasion
constructor with a fixed budget, ``advlab attack --eps`` and the assessment config default
use it; an attack whose paper defines another norm or scale says so in its docstring, and
data with a coarser grid (the embedded 8x8 digits take 17 grey levels, steps of 1/16) is
attacked with an explicit ``eps``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_EPS: float = 8 / 255
"""The one default L-inf budget (8/255 on ``[0, 1]`` inputs), see the module docstring."""

PARAMETERS: tuple[str, ...] = (
    "eps",
    "norm",
    "steps",
    "step_size",
    "restarts",
    "max_queries",
    "query_budget",
    "budget",
    "seed",
    "batch_size",
)
"""The shared parameter words."""

RESULT_WORDS: tuple[str, ...] = (
    "robust_accuracy",
    "success",
    "queries",
    "gradient_calls",
    "seconds",
)
"""The shared result words."""

SYNONYMS: dict[str, str] = {
    "epsilon": "eps",
    "eps_step": "step_size",
    "eps_iter": "step_size",
    "step": "step_size",
    "alpha": "step_size, or a descriptive name",
    "alpha_max": "a descriptive name",
    "eta": "step_size, or a descriptive name",
    "learning_rate": "step_size (an attack's step) or lr (a training rate)",
    "n_restarts": "restarts",
    "num_restarts": "restarts",
    "nb_restarts": "restarts",
    "random_restarts": "restarts",
    "num_iter": "steps",
    "max_iter": "steps",
    "n_iter": "steps",
    "nb_iter": "steps",
    "iterations": "steps",
    "n_steps": "steps",
    "num_steps": "steps",
    "max_steps": "steps",
    "queries": "query_budget (a total) or max_queries (per point)",
    "n_queries": "query_budget (a total) or max_queries (per point)",
    "num_queries": "query_budget (a total) or max_queries (per point)",
    "query_limit": "query_budget",
    "random_state": "seed",
    "random_seed": "seed",
    "rng_seed": "seed",
    "bs": "batch_size",
    "poison_fraction": "budget",
    "poison_rate": "budget",
    "ord": "norm",
    "distance": "norm",
}
"""Parameter names that mean a vocabulary word, mapped to the word to use instead."""

RESULT_SYNONYMS: dict[str, str] = {
    "n_queries": "queries",
    "num_queries": "queries",
    "query_count": "queries",
    "grad_calls": "gradient_calls",
    "gradients": "gradient_calls",
    "n_gradients": "gradient_calls",
    "time": "seconds",
    "elapsed": "seconds",
    "runtime": "seconds",
    "wall_time": "seconds",
    "duration": "seconds",
    "robust_acc": "robust_accuracy",
    "adv_accuracy": "robust_accuracy",
    "adversarial_accuracy": "robust_accuracy",
    "successes": "success",
    "is_adv": "success",
    "fooled": "success",
    "alpha": "a descriptive name",
}
"""Result fields and summary keys that mean a result word, mapped to the word to use."""


def parameter_problems(params: list[str], *, doc: str = "", target: bool = False) -> list[str]:
    """What in a constructor's parameter names breaks the vocabulary (empty: nothing).

    ``doc`` is the owner's docstring: a ``max_queries`` must be documented as per point.
    ``target``: the owner is a target or meter, whose only budget is ``query_budget``.
    """
    problems = [f"{p!r}: use {SYNONYMS[p]}" for p in params if p in SYNONYMS]
    if "lr" in params and "epochs" not in params:
        problems.append("'lr' without 'epochs' is an attack's step: use step_size")
    if "max_queries" in params:
        if target:
            problems.append("'max_queries' on a target is a total: use query_budget")
        elif "per point" not in _arg_doc(doc, "max_queries"):
            problems.append("'max_queries' is not documented as per point: a total is query_budget")
    return problems


def _arg_doc(doc: str, name: str) -> str:
    """The docstring text that documents argument ``name`` (its line and continuation)."""
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(f"{name}:") or f"/ {name}:" in stripped or f" {name}:" in line:
            indent = len(line) - len(line.lstrip())
            block = [stripped]
            for nxt in lines[i + 1 :]:
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) > indent:
                    block.append(nxt.strip())
                else:
                    break
            return " ".join(block)
    return ""


def renamed_params(**old_to_new: str) -> Callable[[F], F]:
    """Accept deprecated keyword names of a function, with a :class:`DeprecationWarning`.

    ``@renamed_params(queries="query_budget")`` on ``__init__`` maps ``queries=`` to
    ``query_budget=``; a value given under both names is an error. The old names are
    recorded on the function as ``__renamed_params__``.
    """

    def deco(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__qualname__}: give {new!r}, not both it and {old!r}")
                    warn_renamed(old, new, where=_owner(fn))
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        merged = {**getattr(fn, "__renamed_params__", {}), **old_to_new}
        wrapper.__renamed_params__ = merged  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return deco


def _owner(fn: Callable[..., Any]) -> str:
    """``Class`` for ``Class.__init__``, ``Class.method`` for a method, else the name."""
    parts = [p for p in fn.__qualname__.split(".") if p != "<locals>"]
    if parts[-1] == "__init__" and len(parts) > 1:
        return parts[-2]
    return ".".join(parts[-2:])


def warn_renamed(old: str, new: str, *, where: str) -> None:
    """Emit the one-line deprecation warning of a renamed parameter, key or option."""
    warnings.warn(
        f"{where}: {old!r} is deprecated, use {new!r}",
        DeprecationWarning,
        stacklevel=3,
    )

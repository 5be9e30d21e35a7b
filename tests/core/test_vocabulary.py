"""One vocabulary: every plugin constructor, target, meter, Result, config and CLI option.

The words are defined in :mod:`advlab.vocab`; this test walks everything advlab defines
(every module is imported, every subclass of the base classes is checked, registered or not)
and fails on a synonym, on an attack's step named ``lr``, on a total budget named
``max_queries`` and on a second eps default. Deprecated aliases must work and warn.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings
from typing import Any

import pytest
import torch
from pydantic import BaseModel

import advlab
from advlab.attacks.evasion.base import EvasionAttack
from advlab.meter import QueryMeter
from advlab.plugin import Plugin
from advlab.registry import all_plugins
from advlab.results import RESULT_TYPES, EvasionResult, Result
from advlab.targets.base import Target
from advlab.vocab import (
    DEFAULT_EPS,
    RESULT_SYNONYMS,
    SYNONYMS,
    parameter_problems,
    renamed_params,
)

OPTIONAL = {"ray", "onnxruntime", "onnx", "httpx", "opacus", "keras", "tensorflow", "atheris"}


def _import_everything() -> None:
    for info in pkgutil.walk_packages(advlab.__path__, prefix="advlab."):
        if info.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except ModuleNotFoundError as exc:  # only an optional third-party extra may be missing
            assert (exc.name or "").split(".")[0] in OPTIONAL, f"{info.name}: {exc}"


_import_everything()


def _subclasses(base: type) -> list[type]:
    out, todo = [], [base]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in out:
                out.append(sub)
                todo.append(sub)
    return sorted(out, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _concrete(classes: list[type]) -> list[type]:
    return [c for c in classes if not inspect.isabstract(c) and c.__module__.startswith("advlab.")]


PLUGINS = [c for c in _concrete(_subclasses(Plugin)) if getattr(c, "name", "")]
TARGETS = _concrete(_subclasses(Target))
RESULTS = sorted(set(RESULT_TYPES.values()), key=lambda c: c.type_name)


def _params(cls: type) -> list[str]:
    sig = inspect.signature(cls.__init__)  # type: ignore[misc]
    return [
        p.name
        for p in sig.parameters.values()
        if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


def _doc(cls: type) -> str:
    return "\n".join(
        inspect.getdoc(c) or "" for c in cls.__mro__ if c.__module__.startswith("advlab")
    )


def test_the_walk_finds_the_families():
    names = {c.name for c in PLUGINS}
    assert {"pgd", "fab", "knockoff", "lira", "witches_brew", "bit_depth"} <= names
    assert {"TorchClassifier", "SklearnClassifier", "FunctionClassifier"} <= {
        c.__name__ for c in TARGETS
    }
    assert len(RESULTS) >= 10
    # every registered plugin of every family (defenses included) has its constructor checked
    registered = [
        c
        for table in all_plugins().values()
        for c in table.values()
        if c.__module__.startswith("advlab.")  # built-ins (a test may add a throwaway plugin)
    ]
    assert {c.family for c in registered} >= {"evasion", "inference", "poisoning", "defense"}
    assert set(registered) <= set(PLUGINS)


@pytest.mark.parametrize("cls", PLUGINS, ids=lambda c: c.name)
def test_plugin_constructor_speaks_the_vocabulary(cls):
    assert parameter_problems(_params(cls), doc=_doc(cls)) == []


@pytest.mark.parametrize("cls", TARGETS, ids=lambda c: c.__name__)
def test_target_constructor_names_its_total_budget_query_budget(cls):
    params = _params(cls)
    assert parameter_problems(params, doc=_doc(cls), target=True) == []


def test_the_meter_names_its_budget_query_budget():
    params = _params(QueryMeter)
    assert "query_budget" in params and "max_queries" not in params
    counters = {"queries", "gradient_calls", "batches"}  # what was spent, not a budget
    assert parameter_problems([p for p in params if p not in counters], target=True) == []


def _summary_keys(cls: type[Result]) -> set[str]:
    if issubclass(cls, EvasionResult):
        inst: Result = cls(
            success=torch.zeros(2, dtype=torch.bool),
            clean_correct=torch.ones(2, dtype=torch.bool),
            norms=torch.zeros(2),
        )
    else:
        inst = cls()
    return set(inst.summary())


@pytest.mark.parametrize("cls", RESULTS, ids=lambda c: c.type_name)
def test_result_fields_and_summary_speak_the_vocabulary(cls):
    from dataclasses import fields

    names = {f.name for f in fields(cls)} | _summary_keys(cls)
    assert {"queries", "gradient_calls", "seconds"} <= names
    bad = {n: RESULT_SYNONYMS[n] for n in names if n in RESULT_SYNONYMS}
    bad.update({n: SYNONYMS[n] for n in names if n in SYNONYMS and n != "queries"})
    assert bad == {}


def test_evasion_results_say_robust_accuracy_and_success():
    keys = _summary_keys(EvasionResult)
    assert {"robust_accuracy", "eps", "norm", "queries", "gradient_calls", "seconds"} <= keys
    assert "success" in {f.name for f in __import__("dataclasses").fields(EvasionResult)}


@pytest.mark.parametrize(
    "cls", [c for c in PLUGINS if issubclass(c, EvasionAttack)], ids=lambda c: c.name
)
def test_one_eps_default(cls):
    """A fixed-budget evasion attack defaults to DEFAULT_EPS; a minimum-norm one to None; an
    attack on files (``modality:binary``) to a byte budget, a positive integer."""
    default = inspect.signature(cls.__init__).parameters["eps"].default
    if "modality:binary" in cls.tags:
        assert isinstance(default, int) and default >= 1
    elif cls.has("minimal_norm"):
        assert default is None
    else:
        assert default == DEFAULT_EPS


def test_config_and_cli_use_the_same_eps_default():
    from advlab.assess.config import PerturbationSpec

    assert PerturbationSpec().eps == [DEFAULT_EPS]
    from advlab.cli import attack

    opts = inspect.signature(attack).parameters
    assert "query_budget" in opts and "8/255" in str(opts["eps"].annotation)


def _config_fields(model: type[BaseModel], seen: set[type]) -> set[str]:
    names: set[str] = set()
    if model in seen:
        return names
    seen.add(model)
    for name, f in model.model_fields.items():
        names.add(name)
        for arg in _flatten(f.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                names |= _config_fields(arg, seen)
    return names


def _flatten(tp: Any) -> list[Any]:
    args = getattr(tp, "__args__", None)
    return [tp] if not args else [x for a in args for x in _flatten(a)]


def test_config_keys_speak_the_vocabulary():
    from advlab.assess.config import AssessmentConfig

    names = _config_fields(AssessmentConfig, set())
    assert "query_budget" in names
    assert sorted(n for n in names if n in SYNONYMS or n == "max_queries") == []


def _aliases() -> list[tuple[type, str, str]]:
    out = []
    for cls in PLUGINS:
        for old, new in getattr(cls.__init__, "__renamed_params__", {}).items():
            out.append((cls, old, new))
    return out


ALIASES = _aliases()


def test_renamed_plugin_parameters_keep_an_alias():
    pairs = {(c.name, o, n) for c, o, n in ALIASES}
    for expected in [
        ("fab", "n_restarts", "restarts"),
        ("cw", "lr", "step_size"),
        ("knockoff", "queries", "query_budget"),
        ("jacobian_augmentation", "step", "step_size"),
        ("cryptanalytic", "max_queries", "query_budget"),
        ("path_finding", "max_queries", "query_budget"),
        ("witches_brew", "lr", "step_size"),
        ("blended", "alpha", "opacity"),
        ("randomized_smoothing", "alpha", "failure_probability"),
    ]:
        assert expected in pairs


@pytest.mark.parametrize("cls, old, new", ALIASES, ids=lambda v: getattr(v, "name", v))
def test_deprecated_alias_works_and_warns(cls, old, new):
    value = inspect.signature(cls.__init__).parameters[new].default
    value = 7 if value is None else value
    with pytest.warns(DeprecationWarning, match=f"'{old}' is deprecated, use '{new}'"):
        atk = cls(**{old: value})
    assert atk.get_params()[new] == value
    assert atk.get_params() == cls(**{new: value}).get_params()
    with pytest.raises(TypeError, match="not both"):
        cls(**{old: value, new: value})


def test_target_and_meter_aliases_work_and_warn(digits_bundle):
    with pytest.warns(DeprecationWarning, match="'max_queries' is deprecated"):
        meter = QueryMeter(max_queries=5)
    assert meter.query_budget == 5
    with pytest.warns(DeprecationWarning, match="'max_queries' is deprecated"):
        target = digits_bundle.target(device="cpu", max_queries=9)
    assert target.meter.query_budget == 9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert digits_bundle.target(device="cpu", query_budget=9).meter.query_budget == 9


def test_parameter_problems_catches_each_kind_of_mistake():
    """The checker itself: each forbidden pattern is reported (a silent checker proves nothing)."""
    assert parameter_problems(["eps", "steps", "step_size", "restarts", "seed"]) == []
    assert parameter_problems(["n_restarts"]) == ["'n_restarts': use restarts"]
    assert parameter_problems(["num_iter"]) and parameter_problems(["max_iter"])
    assert parameter_problems(["step"]) and parameter_problems(["alpha"])
    assert parameter_problems(["queries"])
    assert parameter_problems(["lr"]) == [
        "'lr' without 'epochs' is an attack's step: use step_size"
    ]
    assert parameter_problems(["lr", "epochs"]) == []
    doc_total = "Args:\n    max_queries: the total number of queries.\n"
    doc_point = "Args:\n    max_queries: queries per point (restarts included).\n"
    assert parameter_problems(["max_queries"], doc=doc_total)
    assert parameter_problems(["max_queries"], doc=doc_point) == []
    assert parameter_problems(["max_queries"], doc=doc_point, target=True)


def test_renamed_params_decorator_maps_and_records():
    class Demo:
        @renamed_params(old="new")
        def __init__(self, *, new: int = 1) -> None:
            self.new = new

    with pytest.warns(DeprecationWarning, match="Demo: 'old' is deprecated, use 'new'"):
        assert Demo(old=3).new == 3
    assert Demo.__init__.__renamed_params__ == {"old": "new"}  # type: ignore[attr-defined]
    assert list(inspect.signature(Demo.__init__).parameters) == ["self", "new"]


def test_a_result_written_before_a_field_rename_still_loads():
    old = {"type": "certification", "schema_version": 1, "sigma": 0.25, "alpha": 0.01}
    res = Result.from_dict(old)
    assert type(res).__name__ == "CertificationResult"
    assert res.failure_probability == 0.01  # type: ignore[attr-defined]
    assert res.summary()["failure_probability"] == 0.01

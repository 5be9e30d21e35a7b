"""Checks every plugin gets: the scikit-learn constructor contract and JSON-able params."""

from __future__ import annotations

import inspect
import json
from typing import Any

from advlab.errors import ConfigError
from advlab.testing._registry import check, expect_error, register_checks


@check("constructor_stores_params")
def constructor_stores_params(plugin: Any) -> None:
    """``__init__`` stores each argument as given (same object) and does nothing else;
    every argument has a default."""
    cls = type(plugin)
    sig = inspect.signature(cls.__init__)
    for p in sig.parameters.values():
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        assert p.default is not p.empty, f"{cls.__name__}: argument {p.name!r} has no default"
    default = cls()
    assert set(default.get_params()) == set(cls._param_names())
    params = plugin.get_params()
    rebuilt = cls(**params)
    for k, v in params.items():
        assert getattr(rebuilt, k) is v, (
            f"{cls.__name__}.__init__ changed {k!r} instead of storing it"
        )


@check("clone_roundtrip")
def clone_roundtrip(plugin: Any) -> None:
    """``clone()`` gives an equal, independent copy; ``clone(**p)`` overrides ``p``."""
    params = plugin.get_params()
    twin = plugin.clone()
    assert twin is not plugin and type(twin) is type(plugin)
    assert twin.get_params() == params
    assert plugin.clone(**params).get_params() == params
    assert plugin.get_params() == params, "clone() modified the original"


@check("unknown_param_refused")
def unknown_param_refused(plugin: Any) -> None:
    """An unknown parameter name is a clear error, at construction and in ``set_params``."""
    bad = "not_a_parameter_of_this_plugin"
    expect_error(TypeError, bad, type(plugin), **{bad: 1})
    expect_error(ConfigError, bad, plugin.clone().set_params, **{bad: 1})


@check("params_serialise_to_json")
def params_serialise_to_json(plugin: Any) -> None:
    """The default parameters are JSON values (configs and run directories store them)."""
    params = type(plugin)().get_params()
    back = json.loads(json.dumps(params))
    assert set(back) == set(params)


register_checks(
    "*",
    [constructor_stores_params, clone_roundtrip, unknown_param_refused, params_serialise_to_json],
)

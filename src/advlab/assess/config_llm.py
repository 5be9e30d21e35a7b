"""The ``llm`` section of an assessment config (``threat_model.goal: llm``).

An LLM assessment runs probes (:mod:`advlab.llm.probes`) against one LLM target and gates
their attack success. The target is one of:

* an OpenAI-compatible endpoint: ``base_url`` + ``model`` (+ ``api_key_env``, the name of
  the environment variable holding the key: the key itself never enters a config);
* a vulnerable-by-design app of :mod:`advlab.llm.apps` by level: ``app: level3``;
* a Python entry point ``entry: module:function`` returning an LLM target (or a
  :class:`~advlab.llm.apps.ChatApp`).

``guards`` (names of :mod:`advlab.llm.guards`) make a guarded variant: every probe runs
against the target as it is and behind the guards, so the report shows before and after.

Kept apart from :mod:`advlab.assess.config` (which includes it as ``llm``).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from advlab.assess.config_targets import _Strict

_ENTRY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_LEVEL = re.compile(r"^level(\d+)$")


def _known(family: str, name: str) -> str:
    from advlab.errors import AdvlabError
    from advlab.registry import get_plugin

    try:
        get_plugin(family, name)
    except (AdvlabError, KeyError) as exc:
        raise ValueError(str(exc).strip("'\"")) from None
    return name


class LLMTargetSpec(_Strict):
    """The LLM under test: exactly one of ``base_url`` (with ``model``), ``app`` or ``entry``."""

    name: str = Field("llm", description="The target's name in reports.")
    base_url: str | None = Field(
        None, description="An OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1."
    )
    model: str | None = Field(None, description="The model name to ask the API for.")
    api_key_env: str | None = Field(
        None, description="Environment variable holding the API key (never the key itself)."
    )
    app: str | None = Field(
        None, description="A vulnerable app of advlab.llm.apps by level: level0 .. level6."
    )
    entry: str | None = Field(
        None, description="'module:function' returning an LLM target or a ChatApp."
    )
    pythonpath: str | None = Field(
        None, description="Folder added to sys.path for an entry (relative to the config)."
    )

    @field_validator("app")
    @classmethod
    def _check_app(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from advlab.llm.apps import TOP_LEVEL

        m = _LEVEL.match(v)
        if not m or int(m.group(1)) > TOP_LEVEL:
            raise ValueError(f"expected level0 .. level{TOP_LEVEL}, got {v!r}")
        return v

    @field_validator("entry")
    @classmethod
    def _check_entry(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from advlab.assess.config_targets import check_entry_module

        if not _ENTRY.match(v):
            raise ValueError(f"expected 'module:function', got {v!r}")
        check_entry_module(v.split(":")[0])
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> LLMTargetSpec:
        kinds = [k for k in ("base_url", "app", "entry") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "give exactly one of base_url (with model), app or entry"
                + (f"; got {', '.join(kinds)}" if kinds else "")
            )
        if self.base_url is not None and not self.model:
            raise ValueError("a base_url target needs a model")
        return self

    @property
    def level(self) -> int | None:
        m = _LEVEL.match(self.app or "")
        return int(m.group(1)) if m else None


class NamedSpec(_Strict):
    """A registered plugin with its parameters (a bare name is accepted)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = Field(None, description="Name in reports (default: the name).")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        return {"name": v} if isinstance(v, str) else v

    @property
    def display(self) -> str:
        return self.label or self.name


class LLMPluginSpec(NamedSpec):
    """A registered probe or guard with its parameters (a bare name is accepted)."""


class LLMSpec(_Strict):
    """What an LLM assessment sends, how it judges the answers and what it knows."""

    target: LLMTargetSpec
    probes: list[LLMPluginSpec] = Field(
        default_factory=list,
        description="Probes to run (default: every scan default, advlab.llm.preflight.DEFAULT_PROBES).",
    )
    transforms: list[str] = Field(
        default_factory=list,
        description="Transforms every probe also sends its attempts through (base64, ...).",
    )
    detectors: list[str] = Field(
        default_factory=list, description="Detectors judging every probe (default: each probe's)."
    )
    guards: list[LLMPluginSpec] = Field(
        default_factory=list,
        description="Guards applied to the target: each probe also runs behind them.",
    )
    objectives: list[str] = Field(
        default_factory=list, description="Requests the target must refuse (jailbreak probes)."
    )
    secrets: list[str] = Field(
        default_factory=list,
        description="Values the target must never reveal (an app's own secret is added).",
    )
    max_prompts: int | None = Field(
        None,
        ge=1,
        description="Budget: requests each probe sends to the target at most, adaptive "
        "rounds included (a round over budget is cut to a seeded sample).",
    )
    concurrency: int = Field(4, ge=1, le=256, description="Requests in flight.")
    attacker: LLMTargetSpec | None = Field(
        None,
        description="The attacker model of adaptive probes (PAIR): an endpoint, an app or an "
        "entry point, like target (default: the offline template attacker).",
    )

    @field_validator("probes")
    @classmethod
    def _check_probes(cls, v: list[LLMPluginSpec]) -> list[LLMPluginSpec]:
        for p in v:
            _known("probe", p.name)
        labels = [p.display for p in v]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(f"duplicate probe label(s) {dup}; give each a distinct label")
        return v

    @field_validator("transforms")
    @classmethod
    def _check_transforms(cls, v: list[str]) -> list[str]:
        return [_known("transform", t) for t in v]

    @field_validator("detectors")
    @classmethod
    def _check_detectors(cls, v: list[str]) -> list[str]:
        return [_known("detector", d) for d in v]

    @field_validator("guards")
    @classmethod
    def _check_guards(cls, v: list[LLMPluginSpec]) -> list[LLMPluginSpec]:
        from advlab.registry import get_plugin

        for g in v:
            _known("defense", g.name)
            if getattr(get_plugin("defense", g.name), "threat", "") != "llm":
                raise ValueError(f"{g.name} is not an LLM guard")
        return v

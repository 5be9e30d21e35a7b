"""The assessment configuration: a versioned pydantic v2 schema.

An assessment names the *targets* (a model file with its metadata, an ONNX file, an HTTP
endpoint, a Python entry point ``module:function`` returning a Target, or an embedded
reference model), optional *defenses* applied to them (defended variants, so the report shows
before and after), the *data*, the *threat model* (goal, knowledge, access, query budget,
perturbation set), the *attacks* (a recommended suite per threat model when omitted), the
*gates* (``robust_accuracy(linf, 0.1) >= 0.70``) and the *seed*.

Errors name the path of the bad field and what was expected, e.g.
``threat_model.perturbation.eps.1: eps must be > 0, got -0.1``.
"""

from __future__ import annotations

import logging
import math
import re
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from advlab.assess.config_llm import LLMSpec, NamedSpec
from advlab.assess.config_privacy import PrivacySpec
from advlab.assess.config_targets import (  # noqa: F401  (re-exported: the config API)
    DENIED_ENTRY_MODULES,
    EntryPointTarget,
    HttpTarget,
    HuggingFaceTarget,
    KerasTarget,
    ModelFileTarget,
    OnnxTarget,
    ReferenceTarget,
    TargetSpec,
    _Strict,
    check_entry_module,
)
from advlab.errors import ConfigError, OutputPathError
from advlab.paths import excerpt, safe_name
from advlab.vocab import DEFAULT_EPS

log = logging.getLogger(__name__)

CONFIG_VERSION = 1
ReportFormat = Literal["html", "md", "json", "junit", "sarif"]
REPORT_FORMATS: tuple[ReportFormat, ...] = ("html", "md", "json", "junit", "sarif")
GOALS = ("evasion", "extraction", "inference", "poisoning", "llm")
_FRACTION = re.compile(r"^\s*\d+(\.\d+)?\s*/\s*\d+(\.\d+)?\s*$")
MAX_CONFIG_BYTES = 1 << 20
"""Largest config file read (1 MiB: configs are a few KB; a bigger one is not a config)."""
MAX_ALIASES = 16
"""YAML aliases allowed per config. ``k`` aliases expand a document at most about
``3 ** (k / 3)`` times (branching 3 maximises it), so 16 bound an alias bomb ("billion
laughs") to a few hundred copies while leaving room for ordinary reuse."""


def parse_number(value: Any) -> float:
    """A float from a number or a fraction string such as ``"8/255"`` (never evaluated)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        s = value.strip()
        if _FRACTION.match(s):
            num, den = (x.strip() for x in s.split("/"))
            if float(den) == 0:
                raise ValueError(f"division by zero in {value!r}")
            return float(Fraction(num) / Fraction(den))
        try:
            return float(s)
        except ValueError:
            pass
    raise ValueError(f"expected a number or a fraction like '8/255', got {excerpt(value)}")


class DefenseSpec(_Strict):
    """A registered defense applied to targets (a defended variant of each)."""

    name: str = Field(..., description="Registered defense name, e.g. bit-depth.")
    params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = Field(None, description="Name of the variant (default: target+defense).")
    targets: list[str] | None = Field(None, description="Apply only to these targets.")


class DataSpec(_Strict):
    dataset: str = Field("digits", description="Embedded dataset name or a .npz/.csv/folder path.")
    split: Literal["test", "train"] = "test"
    n: int = Field(200, ge=1, description="Number of points attacked (a seeded subset).")
    seed: int = Field(0, description="Seed of the dataset split.")


class PerturbationSpec(_Strict):
    norm: Literal["linf", "l2", "l1"] = "linf"
    eps: list[float] = Field(
        default_factory=lambda: [DEFAULT_EPS],
        min_length=1,
        description="Radii to test; numbers or fractions such as '8/255'.",
    )
    bounds: tuple[float, float] | None = Field(
        None, description="Input bounds (default: the target's own)."
    )
    immutable: list[int] = Field(
        default_factory=list, description="Flat indices of features the attacker cannot change."
    )

    @field_validator("eps", mode="before")
    @classmethod
    def _parse_eps(cls, v: Any) -> Any:
        if isinstance(v, (int, float, str)):
            v = [v]
        if not isinstance(v, list):
            return v
        out = []
        for i, e in enumerate(v):
            try:
                val = parse_number(e)
            except ValueError as exc:
                raise ValueError(f"item {i}: {exc}") from None
            if not (val > 0 and math.isfinite(val)):
                raise ValueError(f"item {i}: eps must be > 0 and finite, got {excerpt(e)}")
            out.append(val)
        return out

    @field_validator("bounds")
    @classmethod
    def _check_bounds(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not v[0] < v[1]:
            raise ValueError(f"expected lower < upper, got {list(v)}")
        return v


class QueryBudget(_Strict):
    """Queries per attacked point, per attack and eps (a task's meter gets ``per_point * n``)."""

    per_point: int | None = Field(None, ge=1)


class ThreatModel(_Strict):
    goal: Literal["evasion", "extraction", "inference", "poisoning", "llm"] = "evasion"
    knowledge: Literal["white-box", "grey-box", "black-box"] = "white-box"
    access: Literal["gradients", "scores", "labels"] = "gradients"
    query_budget: QueryBudget = Field(default_factory=QueryBudget)  # type: ignore[arg-type]
    perturbation: PerturbationSpec = Field(default_factory=PerturbationSpec)  # type: ignore[arg-type]
    targeted: bool = False
    constraints: dict[str, Any] | Literal["dataset"] | None = Field(
        None,
        description="Domain constraints of feature-space attacks (features with type, "
        "mutability and bounds, one-hot groups, relations as text; docs/constrained.md), or "
        "'dataset' for the dataset's own.",
    )

    @field_validator("constraints")
    @classmethod
    def _check_constraints(cls, v: Any) -> Any:
        if isinstance(v, dict):
            from advlab.constraints.schema import ConstraintSet

            try:
                ConstraintSet.from_config(v)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return v

    @field_validator("query_budget", mode="before")
    @classmethod
    def _budget_shorthand(cls, v: Any) -> Any:
        if v is None:
            return {}
        return {"per_point": v} if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _knowledge_access(self) -> ThreatModel:
        if self.knowledge == "black-box" and self.access == "gradients":
            raise ValueError(
                "a black-box threat model cannot grant gradient access; "
                "set access to scores or labels"
            )
        return self


class AttackSpec(NamedSpec):
    name: str = Field(..., description="Registered attack name, or 'module:Class'.")
    label: str | None = Field(None, description="Name in reports (default: the attack name).")


class ExecutorSpec(_Strict):
    name: Literal["serial", "processes", "ray"] = "serial"
    workers: int | None = Field(None, ge=1)
    address: str | None = Field(
        None,
        description="ray only: a cluster address, 'auto' (join a running cluster, else start "
        "a local Ray) or None (a local Ray on this machine).",
    )


class SanityAccept(_Strict):
    """A blocking sanity finding the assessment accepts, with the reason (shown in reports)."""

    check: str = Field(..., description="Check name (zero-gradients) or id (ADV-S008).")
    reason: str = Field(..., description="Why the finding is acceptable; required.")
    variant: str | None = Field(None, description="Only this target variant (default: all).")

    @field_validator("check")
    @classmethod
    def _known_check(cls, v: str) -> str:
        from advlab.assess.sanity import CHECKS, resolve_check

        name = resolve_check(v)
        if name is None:
            raise ValueError(f"unknown sanity check {v!r}; known: {', '.join(CHECKS)}")
        return name

    @field_validator("reason")
    @classmethod
    def _has_reason(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("an accepted sanity finding needs a reason")
        return v.strip()


class SanitySpec(_Strict):
    enabled: bool = True
    tolerance: float = Field(0.02, ge=0, le=1, description="Slack in accuracy comparisons.")
    extra_attacks: bool = Field(
        True, description="Run the extra FGSM / longer PGD / huge-eps probes the checks need."
    )
    fail_on: list[str] = Field(
        default_factory=lambda: ["invalidating"],
        description="Impacts (invalidating, informational) and/or check names or ids whose "
        "findings make the verdict INCONCLUSIVE unless accepted.",
    )
    accept: list[SanityAccept] = Field(
        default_factory=list, description="Blocking findings accepted, each with a reason."
    )

    @field_validator("fail_on")
    @classmethod
    def _known_fail_on(cls, v: list[str]) -> list[str]:
        from advlab.assess.sanity import IMPACTS, resolve_check

        bad = [f for f in v if f not in IMPACTS and resolve_check(f) is None]
        if bad:
            raise ValueError(
                f"unknown {', '.join(map(repr, bad))}; use {' or '.join(IMPACTS)} or a "
                "sanity check name or id"
            )
        return v


class AssessmentConfig(_Strict):
    """An assessment: targets x attacks x eps under a threat model, with gates."""

    version: Literal[1] = Field(1, description="Config schema version.")
    name: str = Field(
        "assessment",
        description="Names the run folder (runs/NAME-TIME): letters, digits, '_', '.', '-'.",
    )
    targets: list[TargetSpec] = Field(
        default_factory=list, description="At least one, except for goal llm (see llm)."
    )
    defenses: list[DefenseSpec] = Field(default_factory=list)
    data: DataSpec = Field(default_factory=DataSpec)  # type: ignore[arg-type]
    threat_model: ThreatModel = Field(default_factory=ThreatModel)  # type: ignore[arg-type]
    attacks: list[AttackSpec] | None = Field(
        None, description="Omit for the recommended suite of the threat model."
    )
    gates: list[str] = Field(
        default_factory=list, description="e.g. robust_accuracy(linf, 0.1) >= 0.7"
    )
    seed: int = 0
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)  # type: ignore[arg-type]
    sanity: SanitySpec = Field(default_factory=SanitySpec)  # type: ignore[arg-type]
    privacy: PrivacySpec = Field(default_factory=PrivacySpec)  # type: ignore[arg-type]
    llm: LLMSpec | None = Field(
        None, description="The LLM target, probes, guards and budget of a goal llm assessment."
    )
    reports: list[ReportFormat] = Field(default_factory=lambda: list(REPORT_FORMATS))

    @model_validator(mode="before")
    @classmethod
    def _single_target(cls, v: Any) -> Any:
        if isinstance(v, dict) and "target" in v:
            if "targets" in v:
                raise ValueError("give either 'target' or 'targets', not both")
            v = dict(v)
            v["targets"] = [v.pop("target")]
        return v

    @field_validator("name")
    @classmethod
    def _check_run_name(cls, v: str) -> str:
        try:
            return safe_name(v, what="name")
        except OutputPathError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("gates")
    @classmethod
    def _parse_gates(cls, v: list[str]) -> list[str]:
        from advlab.assess.gates import parse_gate

        for i, g in enumerate(v):
            try:
                parse_gate(g)
            except ConfigError as exc:
                raise ValueError(f"item {i}: {exc}") from None
        return v

    @model_validator(mode="after")
    def _names(self) -> AssessmentConfig:
        if self.threat_model.goal == "llm":
            if self.llm is None:
                raise ValueError("llm: required when threat_model.goal is llm")
        elif not self.targets:
            raise ValueError(
                "targets: required field is missing (at least one target; only goal llm has none)"
            )
        seen: set[str] = set()
        for i, t in enumerate(self.targets):
            if t.name is None:
                base, k = t.default_name(), 2
                name = base
                while name in seen:
                    name, k = f"{base}-{k}", k + 1
                t.name = name
            if t.name in seen:
                raise ValueError(f"targets.{i}.name: duplicate target name {t.name!r}")
            seen.add(t.name)
        for i, d in enumerate(self.defenses):
            for t_name in d.targets or []:
                if t_name not in seen:
                    raise ValueError(
                        f"defenses.{i}.targets: unknown target {t_name!r}; "
                        f"targets: {', '.join(sorted(seen))}"
                    )
        labels = [a.display for a in self.attacks or []]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(
                f"attacks: duplicate attack label(s) {dup}; give each a distinct label"
            )
        return self

    # ------------------------------------------------------------------ helpers
    def target_names(self) -> list[str]:
        return [str(t.name) for t in self.targets]

    def resolved(self) -> dict[str, Any]:
        """The config with defaults filled in, as JSON-able data for the run's record;
        credentials in HTTP target URLs are masked (see :func:`advlab.secrets.safe_url`)."""
        from advlab.secrets import safe_url

        data = self.model_dump(mode="json")
        for target in data.get("targets", []):
            if target.get("kind") == "http":
                target["url"] = safe_url(target["url"])
        return data


# ---------------------------------------------------------------------------- loading
def _fmt_loc(loc: tuple[Any, ...]) -> str:
    parts = [
        str(p)
        for p in loc
        if p not in ("model", "onnx", "http", "python", "reference") or not isinstance(p, str)
    ]
    # drop pydantic's union tags such as 'function-after[...]'
    parts = [p for p in parts if "[" not in p]
    return ".".join(parts) or "<root>"


def format_validation_error(exc: ValidationError, source: str = "config") -> str:
    lines = []
    for err in exc.errors():
        loc = _fmt_loc(tuple(err.get("loc", ())))
        msg = err.get("msg", "invalid value")
        msg = msg.replace("Value error, ", "")
        typ = err.get("type", "")
        got = err.get("input")
        if typ == "extra_forbidden":
            msg = "unknown field (check the spelling; `advlab schema` lists the fields)"
        elif typ == "missing":
            msg = "required field is missing"
        elif typ in ("literal_error", "union_tag_invalid"):
            msg = f"{msg} (got {excerpt(got)})"
        elif typ.endswith("_type") or typ.endswith("_parsing"):
            msg = f"{msg} (got {excerpt(got)})"
        lines.append(f"{loc}: {msg}")
    return f"{source}: invalid configuration:\n  " + "\n  ".join(lines)


def parse_config(data: Any, *, source: str = "config") -> AssessmentConfig:
    """Validate a mapping into an :class:`AssessmentConfig`; errors name the field paths."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping at the top level, got {type(data).__name__}"
        )
    try:
        return AssessmentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


class _BoundedLoader(yaml.SafeLoader):
    """A ``SafeLoader`` that refuses more than :data:`MAX_ALIASES` aliases."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise yaml.YAMLError(
                    f"more than {MAX_ALIASES} YAML aliases (line {mark.line + 1}); "
                    "write the values out"
                )
        return super().compose_node(parent, index)


def load_config(path: str | Path) -> AssessmentConfig:
    """Read and validate a YAML (or JSON) config file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{p}: larger than {MAX_CONFIG_BYTES} bytes; not a config file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise ConfigError(f"{p}: nested too deeply to be a config") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{p}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    cfg = parse_config(data, source=str(p))
    return cfg


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the config (published as docs/config.schema.json)."""
    schema = AssessmentConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "advlab assessment configuration"
    schema["$id"] = f"advlab-assessment-config-v{CONFIG_VERSION}"
    return schema

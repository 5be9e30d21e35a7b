"""The plugin contract: the parameter base every plugin shares, and its metadata as data.

A plugin (attack, defense, probe, detector, transform, challenge) is one class in one file,
registered with a ``register_*`` decorator. Its class attributes are its metadata:

``name``
    unique snake_case registry name.
``family``
    one of :data:`advlab.taxonomy.FAMILIES`.
``paper`` / ``link``
    citation, and a resolvable link (``arXiv:NNNN.NNNNN``, ``doi:...`` or an ``https://`` URL);
    when ``link`` is empty the first such link cited in ``paper`` is used.
``summary``
    one line.
``tags``
    ``axis:value`` strings from :data:`advlab.taxonomy.TAGS` (threat, access, norm, modality).
``flags``
    capabilities from :data:`advlab.taxonomy.FLAGS` (iterative, minimal_norm, ...).
``fast_params``
    constructor arguments that make the plugin fast enough for the conformance kit.
``expected_failures``
    conformance check name -> reason; the kit marks those checks as expected failures.
``aliases``
    deprecated former names, still accepted by lookups with a warning.

:func:`metadata` validates them into a :class:`PluginMeta`; the registry calls it when a
plugin registers, so a plugin with bad metadata never appears half-registered.
Constructors only store keyword arguments (scikit-learn's contract); validation happens in
``_validate`` (called when the plugin runs, and by :meth:`Plugin.check_params`).
"""

from __future__ import annotations

import inspect
import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from advlab.errors import ConfigError
from advlab.taxonomy import FAMILIES, check_flag, check_tag

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_LINK = re.compile(r"(arXiv:\d{4}\.\d{4,5}|doi:10\.\S+|https://\S+)")


class PluginMeta(BaseModel):
    """Validated metadata of one plugin (what ``advlab list`` and the kit read)."""

    model_config = ConfigDict(frozen=True)

    name: str
    family: str
    paper: str
    link: str
    summary: str
    tags: frozenset[str]
    flags: frozenset[str]
    fast_params: dict[str, Any]
    expected_failures: dict[str, str]

    @field_validator("name")
    @classmethod
    def _snake(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"name {v!r} is not snake_case")
        return v

    @field_validator("family")
    @classmethod
    def _family(cls, v: str) -> str:
        if v not in FAMILIES:
            raise ValueError(f"unknown family {v!r}; allowed: {', '.join(FAMILIES)}")
        return v

    @field_validator("link")
    @classmethod
    def _link(cls, v: str) -> str:
        if not _LINK.fullmatch(v):
            raise ValueError(f"link {v!r} is not arXiv:NNNN.NNNNN, doi:10.x/y or an https:// URL")
        return v

    @field_validator("summary")
    @classmethod
    def _summary(cls, v: str) -> str:
        if not v.strip() or "\n" in v:
            raise ValueError("summary must be one non-empty line")
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: frozenset[str]) -> frozenset[str]:
        for t in v:
            check_tag(t)
        return v

    @field_validator("flags")
    @classmethod
    def _flags(cls, v: frozenset[str]) -> frozenset[str]:
        for f in v:
            check_flag(f)
        return v

    @field_validator("expected_failures")
    @classmethod
    def _reasons(cls, v: dict[str, str]) -> dict[str, str]:
        for check, reason in v.items():
            if not str(reason).strip():
                raise ValueError(f"expected failure of {check!r} needs a reason")
        return v

    def tag(self, axis: str) -> set[str]:
        """The values of one tag axis, e.g. ``meta.tag("norm") == {"linf", "l2"}``."""
        return {t.split(":", 1)[1] for t in self.tags if t.startswith(axis + ":")}


class Plugin:
    """Parameter base shared by attacks, defenses and every other plugin family."""

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    link: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    tags: ClassVar[frozenset[str]] = frozenset()
    flags: ClassVar[frozenset[str]] = frozenset()
    fast_params: ClassVar[dict[str, Any]] = {}
    expected_failures: ClassVar[dict[str, str]] = {}
    aliases: ClassVar[tuple[str, ...]] = ()
    """Deprecated former names; lookups accept them with a warning."""

    @classmethod
    def derived_tags(cls) -> set[str]:
        """Tags that follow from other attributes (family bases add access, norm, threat)."""
        return set()

    @classmethod
    def has(cls, flag: str) -> bool:
        """Whether the plugin declares capability ``flag`` (checked against the taxonomy)."""
        check_flag(flag)
        return flag in cls.flags

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (JSON-friendly values)."""
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params: Any) -> Plugin:
        valid = set(self._param_names())
        for k, v in params.items():
            if k not in valid:
                raise ConfigError(
                    f"{self.name}: unknown parameter {k!r}; valid: {', '.join(sorted(valid))}"
                )
            setattr(self, k, v)
        return self

    def clone(self, **params: Any) -> Plugin:
        p = self.get_params()
        p.update(params)
        return type(self)(**p)

    def check_params(self) -> None:
        """Validate the constructor arguments without running (``advlab validate`` uses it).

        Raises :class:`~advlab.errors.ConfigError` with a one-line message.
        """
        validate = getattr(self, "_validate", None)
        if validate is not None and not inspect.signature(validate).parameters:
            validate()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ---------------------------------------------------------------- validation helpers
    def _positive(self, **values: Any) -> None:
        for k, v in values.items():
            if v is None or not (float(v) > 0):
                raise ConfigError(f"{self.name}: {k} must be > 0, got {v!r}")

    def _non_negative_int(self, **values: Any) -> None:
        for k, v in values.items():
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ConfigError(f"{self.name}: {k} must be a non-negative integer, got {v!r}")


def metadata(cls: type[Any]) -> PluginMeta:
    """Validate and return a plugin class's metadata (raises ValueError naming the class)."""
    link = cls.link
    if not link:  # the first arXiv id / DOI / URL cited in ``paper``
        found = _LINK.search(cls.paper or "")
        link = found.group(0).rstrip(".,;)") if found else ""
    try:
        return PluginMeta(
            name=cls.name,
            family=cls.family,
            paper=cls.paper,
            link=link,
            summary=cls.summary,
            tags=frozenset(cls.tags) | frozenset(cls.derived_tags()),
            flags=frozenset(cls.flags),
            fast_params=dict(cls.fast_params),
            expected_failures=dict(cls.expected_failures),
        )
    except ValidationError as exc:
        why = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ValueError(f"plugin {cls.__module__}.{cls.__qualname__}: {why}") from None

"""Base class of all attacks: scikit-learn style constructor contract and metadata.

``__init__`` only stores keyword arguments (all defaulted); validation happens when the
attack runs. Class attributes carry the plugin metadata used by ``advlab list`` and by the
conformance tests: ``name``, ``kind``, ``requires``, ``paper``, ``summary``.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from advlab.access import Access
from advlab.errors import ConfigError


class Attack:
    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    requires: ClassVar[Access] = Access.LABELS
    paper: ClassVar[str] = ""
    summary: ClassVar[str] = ""

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

    def set_params(self, **params: Any) -> Attack:
        valid = set(self._param_names())
        for k, v in params.items():
            if k not in valid:
                raise ConfigError(
                    f"{self.name}: unknown parameter {k!r}; valid: {', '.join(sorted(valid))}"
                )
            setattr(self, k, v)
        return self

    def clone(self, **params: Any) -> Attack:
        p = self.get_params()
        p.update(params)
        return type(self)(**p)

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
            if not isinstance(v, int) or v < 0:
                raise ConfigError(f"{self.name}: {k} must be a non-negative integer, got {v!r}")

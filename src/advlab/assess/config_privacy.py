"""The ``privacy`` section of an assessment config: how a ``goal: inference`` assessment
trains its reference models and what it knows of the target's differential privacy.

Kept apart from :mod:`advlab.assess.config` (which includes it as ``privacy``) so the
membership-inference options live in one place.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ENTRY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class PrivacySpec(BaseModel):
    """Membership-inference audit options (``goal: inference``)."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    reference_models: int = Field(
        16,
        ge=1,
        le=1024,
        description="Reference (shadow) models for the attacks that need them (LiRA, RMIA, "
        "Shokri), each trained like the target on a random half of the data pool.",
    )
    executor: Literal["serial", "processes", "ray"] | None = Field(
        None, description="Executor of the reference models (default: the assessment's)."
    )
    workers: int | None = Field(None, ge=1, description="Workers of a processes executor.")
    trainer: str | None = Field(
        None,
        description="'module:function' training a reference model, fn(x, y, seed) -> "
        "predict(x) -> logits; needed when the target's training recipe is unknown (ONNX, "
        "HTTP, Python targets).",
    )
    dp_epsilon: float | None = Field(
        None,
        gt=0,
        description="The target's (epsilon, delta)-DP guarantee, when it was trained with DP: "
        "the report draws the bound TPR <= e^eps FPR + delta and checks every attack against "
        "it.",
    )
    dp_delta: float = Field(1e-5, ge=0, lt=1, description="The delta of the DP guarantee.")
    dp_references: bool = Field(
        True,
        description="With dp_epsilon set, train the reference models with DP-SGD at that "
        "epsilon too (as the target was trained); needs the privacy extra.",
    )
    fprs: list[float] = Field(
        default_factory=lambda: [0.1, 0.01, 0.001],
        min_length=1,
        description="False-positive rates at which the TPR (with 95% CIs) is reported and "
        "can be gated: tpr_at_fpr(0.001) <= 0.01.",
    )

    @field_validator("fprs")
    @classmethod
    def _check_fprs(cls, v: list[float]) -> list[float]:
        for f in v:
            if not (0 < f < 1 and math.isfinite(f)):
                raise ValueError(f"every FPR must be in (0, 1), got {f}")
        return sorted(set(v), reverse=True)

    @field_validator("trainer")
    @classmethod
    def _check_trainer(cls, v: str | None) -> str | None:
        if v is not None and not _ENTRY.match(v):
            raise ValueError(f"expected 'module:function', got {v!r}")
        return v

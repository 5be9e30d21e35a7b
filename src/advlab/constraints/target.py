"""A target under domain constraints: every attack's projection repairs candidates
(:func:`~advlab.constraints.repair.repair`) and success counts only feasible points."""

from __future__ import annotations

from typing import Any

import torch

from advlab.constraints.repair import repair
from advlab.constraints.schema import ConstraintSet
from advlab.targets.base import Objective, Target, TargetWrapper


class ConstrainedTarget(TargetWrapper):
    """``inner`` with the constraints ``cs``: immutable columns get a zero gradient,
    :meth:`constrain` repairs candidates after the inner target's own constraints, and
    :meth:`feasible` checks every constraint (and the inner target's)."""

    def __init__(self, inner: Target, constraints: ConstraintSet) -> None:
        super().__init__(inner)
        self.constraints = constraints
        self._frozen = constraints.immutable_columns()

    def _gradient(self, x: torch.Tensor, objective: Objective) -> tuple[torch.Tensor, torch.Tensor]:
        grad, out = self.inner._gradient(x, objective)
        if self._frozen:
            flat = grad.reshape(len(grad), -1).clone()
            flat[:, self._frozen] = 0
            grad = flat.reshape(grad.shape)
        return grad, out

    def constrain(self, x: torch.Tensor, x_adv: torch.Tensor) -> torch.Tensor:
        return repair(self.constraints, self.inner.constrain(x, x_adv), x)

    def feasible(self, x: torch.Tensor, x_adv: torch.Tensor) -> torch.Tensor | None:
        ok = self.constraints.feasible(x_adv, x).to(x_adv.device)
        inner = self.inner.feasible(x, x_adv)
        return ok if inner is None else ok & inner

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["constraints"] = repr(self.constraints)
        return d


def constrained(target: Target, constraints: ConstraintSet | None) -> Target:
    """``target`` under ``constraints`` (unchanged when ``None`` or already applied)."""
    if constraints is None:
        return target
    if isinstance(target, ConstrainedTarget) and target.constraints is constraints:
        return target
    return ConstrainedTarget(target, constraints)


def constraints_of(target: Target) -> ConstraintSet | None:
    """The domain constraints applied to ``target`` (the outermost
    :class:`ConstrainedTarget` among its wrappers), or ``None``."""
    t: Any = target
    while t is not None:
        if isinstance(t, ConstrainedTarget):
            return t.constraints
        t = getattr(t, "inner", None)
    return None

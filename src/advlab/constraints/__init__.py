"""Domain constraints for feature-space attacks (Simonetto et al. 2022, arXiv:2112.01156).

``Feature`` / ``OneHot`` / ``ConstraintSet`` declare types, mutability, bounds and
relations (Python operators or parsed text, never evaluated); ``violations`` checks,
``repair`` projects, ``ConstrainedTarget`` applies them to every attack.
"""

from __future__ import annotations

from advlab.constraints.expr import Const, Expr, Ref, Relation
from advlab.constraints.parser import parse_expr, parse_relation
from advlab.constraints.repair import repair
from advlab.constraints.schema import ConstraintSet, Feature, OneHot, Violations
from advlab.constraints.target import ConstrainedTarget, constrained, constraints_of

__all__ = [
    "Const",
    "ConstrainedTarget",
    "ConstraintSet",
    "Expr",
    "Feature",
    "OneHot",
    "Ref",
    "Relation",
    "Violations",
    "constrained",
    "constraints_of",
    "parse_expr",
    "parse_relation",
    "repair",
]

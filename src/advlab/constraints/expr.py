"""Expressions and relations over features, with the penalty semantics of Simonetto et al.

Simonetto, Dyrmishi, Ghamizi, Cordy & Le Traon, "A Unified Framework for Adversarial Attack
and Defense in Constrained Feature Space", IJCAI 2022 (arXiv:2112.01156). A relation is a
tree of comparisons joined by ``and`` / ``or``; its **penalty** is a non-negative,
differentiable (almost everywhere) function of the input that is zero exactly where the
relation holds:

=============  ==========================
relation       penalty
=============  ==========================
``a <= b``     ``max(0, a - b)``
``a < b``      ``max(0, a + tau - b)`` (``tau`` = :data:`STRICT_MARGIN`)
``a == b``     ``|a - b|``
``p and q``    ``pen(p) + pen(q)``
``p or q``     ``min(pen(p), pen(q))``
=============  ==========================

Expressions are built with Python operators on :class:`Ref` (``Ref("amount") * 2``,
``a <= b``, ``(a == b) & (c < d)``, ``p | q``) or parsed from text
(:mod:`advlab.constraints.parser`). Both give the same trees, evaluated in torch on the
features' raw values (a dict name -> column tensor).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Union

import torch

STRICT_MARGIN = 1e-6
"""``a < b`` holds when ``a + STRICT_MARGIN <= b`` (the ``tau`` of Simonetto et al.)."""

Columns = Mapping[str, torch.Tensor]
Operand = Union["Expr", float, int]

_OPS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "+": torch.add,
    "-": torch.sub,
    "*": torch.mul,
    "/": torch.div,
    "**": torch.pow,
}


class Expr:
    """A numeric expression over features (build with operators; never compare with ``==``
    expecting a bool: it builds an equality relation)."""

    __hash__ = None  # type: ignore[assignment]  # ``==`` builds a relation

    def evaluate(self, cols: Columns) -> torch.Tensor:
        """Per-row values for the raw feature columns ``cols``."""
        raise NotImplementedError

    def features(self) -> frozenset[str]:
        """Names of the features the expression reads."""
        raise NotImplementedError

    # arithmetic
    def __add__(self, o: Operand) -> Expr:
        return BinOp("+", self, wrap(o))

    def __radd__(self, o: Operand) -> Expr:
        return BinOp("+", wrap(o), self)

    def __sub__(self, o: Operand) -> Expr:
        return BinOp("-", self, wrap(o))

    def __rsub__(self, o: Operand) -> Expr:
        return BinOp("-", wrap(o), self)

    def __mul__(self, o: Operand) -> Expr:
        return BinOp("*", self, wrap(o))

    def __rmul__(self, o: Operand) -> Expr:
        return BinOp("*", wrap(o), self)

    def __truediv__(self, o: Operand) -> Expr:
        return BinOp("/", self, wrap(o))

    def __rtruediv__(self, o: Operand) -> Expr:
        return BinOp("/", wrap(o), self)

    def __pow__(self, o: Operand) -> Expr:
        return BinOp("**", self, wrap(o))

    def __rpow__(self, o: Operand) -> Expr:
        return BinOp("**", wrap(o), self)

    def __neg__(self) -> Expr:
        return BinOp("-", Const(0.0), self)

    # comparisons build relations
    def __le__(self, o: Operand) -> Relation:  # type: ignore[override]
        return Compare("<=", self, wrap(o))

    def __lt__(self, o: Operand) -> Relation:  # type: ignore[override]
        return Compare("<", self, wrap(o))

    def __ge__(self, o: Operand) -> Relation:  # type: ignore[override]
        return Compare("<=", wrap(o), self)

    def __gt__(self, o: Operand) -> Relation:  # type: ignore[override]
        return Compare("<", wrap(o), self)

    def __eq__(self, o: object) -> Relation:  # type: ignore[override]
        if not isinstance(o, (Expr, int, float)):
            return NotImplemented
        return Compare("==", self, wrap(o))


@dataclass(eq=False)
class Const(Expr):
    """A number."""

    value: float

    def evaluate(self, cols: Columns) -> torch.Tensor:
        ref = next(iter(cols.values()))
        return torch.full_like(ref, float(self.value))

    def features(self) -> frozenset[str]:
        return frozenset()

    def __str__(self) -> str:
        return repr(float(self.value))


@dataclass(eq=False)
class Ref(Expr):
    """The raw value of the feature ``name``."""

    name: str

    def evaluate(self, cols: Columns) -> torch.Tensor:
        try:
            return cols[self.name]
        except KeyError:
            raise KeyError(f"unknown feature {self.name!r}") from None

    def features(self) -> frozenset[str]:
        return frozenset({self.name})

    def __str__(self) -> str:
        return self.name


@dataclass(eq=False)
class BinOp(Expr):
    """``left op right`` for ``op`` in ``+ - * / **``."""

    op: str
    left: Expr
    right: Expr

    def evaluate(self, cols: Columns) -> torch.Tensor:
        return _OPS[self.op](self.left.evaluate(cols), self.right.evaluate(cols))

    def features(self) -> frozenset[str]:
        return self.left.features() | self.right.features()

    def __str__(self) -> str:
        return f"({self.left} {self.op} {self.right})"


def wrap(o: Operand) -> Expr:
    """An expression for ``o`` (numbers become :class:`Const`)."""
    if isinstance(o, Expr):
        return o
    if isinstance(o, bool) or not isinstance(o, (int, float)):
        raise TypeError(f"expected an expression or a number, got {type(o).__name__}")
    return Const(float(o))


class Relation:
    """A constraint: comparisons joined by ``&`` (and) and ``|`` (or)."""

    def penalty(self, cols: Columns) -> torch.Tensor:
        """Per-row penalty (>= 0; zero exactly where the relation holds)."""
        raise NotImplementedError

    def holds(self, cols: Columns, tolerance: float = 0.0) -> torch.Tensor:
        """Per-row truth, each comparison allowed ``tolerance * (1 + |a| + |b|)``."""
        raise NotImplementedError

    def features(self) -> frozenset[str]:
        raise NotImplementedError

    def __and__(self, o: Relation) -> Relation:
        return Logic("and", (self, o))

    def __or__(self, o: Relation) -> Relation:
        return Logic("or", (self, o))


@dataclass(eq=False)
class Compare(Relation):
    """``left op right`` for ``op`` in ``<= < ==``."""

    op: str
    left: Expr
    right: Expr

    def _sides(self, cols: Columns) -> tuple[torch.Tensor, torch.Tensor]:
        return self.left.evaluate(cols), self.right.evaluate(cols)

    def penalty(self, cols: Columns) -> torch.Tensor:
        a, b = self._sides(cols)
        if self.op == "==":
            return (a - b).abs()
        margin = STRICT_MARGIN if self.op == "<" else 0.0
        return torch.clamp(a + margin - b, min=0.0)

    def holds(self, cols: Columns, tolerance: float = 0.0) -> torch.Tensor:
        a, b = self._sides(cols)
        pen = (a - b).abs() if self.op == "==" else a - b + (STRICT_MARGIN if self.op == "<" else 0)
        slack = tolerance * (1 + a.abs() + b.abs())
        return torch.nan_to_num(pen, nan=torch.inf) <= slack

    def features(self) -> frozenset[str]:
        return self.left.features() | self.right.features()

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


@dataclass(eq=False)
class Logic(Relation):
    """``and`` / ``or`` of relations."""

    op: str
    parts: tuple[Relation, ...]

    def penalty(self, cols: Columns) -> torch.Tensor:
        pens = torch.stack([p.penalty(cols) for p in self.parts])
        return pens.sum(0) if self.op == "and" else pens.min(0).values

    def holds(self, cols: Columns, tolerance: float = 0.0) -> torch.Tensor:
        vals = torch.stack([p.holds(cols, tolerance) for p in self.parts])
        return vals.all(0) if self.op == "and" else vals.any(0)

    def features(self) -> frozenset[str]:
        out: frozenset[str] = frozenset()
        for p in self.parts:
            out |= p.features()
        return out

    def __str__(self) -> str:
        return "(" + f" {self.op} ".join(str(p) for p in self.parts) + ")"

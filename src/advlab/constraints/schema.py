"""Feature schemas and constraint sets: per-feature type, mutability and bounds, one-hot
groups and relations (Simonetto et al. 2022, arXiv:2112.01156).

A :class:`ConstraintSet` describes the flat input of a tabular model, one :class:`Feature`
per column in order. With ``scaled=True`` the model's inputs are the features min-max
scaled from their ``[lower, upper]`` to ``[0, 1]`` (advlab's tabular datasets), while types,
bounds and relations speak of the **raw** values; the set converts both ways.

Declared in Python::

    cs = ConstraintSet(
        [Feature("amount", lower=500, upper=40_000), Feature("rate", mutability="immutable"),
         Feature("term_12", "binary"), Feature("term_36", "binary"), Feature("instalment")],
        groups=[OneHot("term", ("term_12", "term_36"))],
    )
    cs.relate(cs["instalment"] == cs["amount"] * cs["rate"] / 12, name="instalment")

or from a config mapping (:meth:`ConstraintSet.from_config`, relations as text parsed by
:mod:`advlab.constraints.parser`, never evaluated).

What is checked (:meth:`ConstraintSet.violations`) and what is repaired
(:mod:`advlab.constraints.repair`) are listed in docs/constrained.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from advlab.constraints.expr import Compare, Ref, Relation
from advlab.constraints.parser import parse_relation
from advlab.errors import ConfigError, InputError

TYPES = ("real", "integer", "binary")
MUTABILITY = ("mutable", "immutable", "increase", "decrease")
INPUT_ATOL = 1e-5
"""Slack of the type, bound and mutability checks in input units, relative: ``INPUT_ATOL *
(1 + |x|)`` (float32 storage of scaled values is exact to ~6e-8)."""
DEFAULT_TOLERANCE = 1e-4
"""Relations hold up to ``tolerance * (1 + |a| + |b|)`` per comparison: 0.01 % of the
magnitudes compared, so a feature computed in float64 and stored as a float32 scaled value
(relative error ~6e-8 of its range) passes for ranges up to ~1,000 times its value."""


@dataclass(frozen=True)
class Feature:
    """One column: ``type`` (real | integer | binary), ``mutability`` (mutable | immutable |
    increase | decrease, relative to the clean value) and raw ``[lower, upper]`` bounds."""

    name: str
    type: str = "real"
    lower: float = -math.inf
    upper: float = math.inf
    mutability: str = "mutable"

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ConfigError(
                f"feature {self.name!r}: type must be one of {TYPES}, got {self.type!r}"
            )
        if self.mutability not in MUTABILITY:
            raise ConfigError(
                f"feature {self.name!r}: mutability must be one of {MUTABILITY}, got {self.mutability!r}"
            )
        if not self.lower <= self.upper:
            raise ConfigError(f"feature {self.name!r}: lower {self.lower} > upper {self.upper}")


@dataclass(frozen=True)
class OneHot:
    """A categorical feature encoded one-hot over binary ``members`` (exactly one is 1)."""

    name: str
    members: tuple[str, ...]
    mutability: str = "mutable"

    def __post_init__(self) -> None:
        if len(self.members) < 2:
            raise ConfigError(f"one-hot group {self.name!r} needs at least two members")
        if self.mutability not in ("mutable", "immutable"):
            raise ConfigError(f"one-hot group {self.name!r}: mutability is mutable or immutable")


@dataclass
class Violations:
    """Per point and per check: ``mask[i, k]`` is True when point ``i`` violates check
    ``names[k]`` (``bounds:f``, ``integer:f``, ``binary:f``, ``onehot:g``, ``mutability:f``,
    ``relation:r``)."""

    names: list[str]
    mask: torch.Tensor

    @property
    def feasible(self) -> torch.Tensor:
        """Per point: no check violated."""
        return (
            ~self.mask.any(1) if self.mask.numel() else torch.ones(len(self.mask), dtype=torch.bool)
        )

    def counts(self) -> dict[str, int]:
        """Violating points per violated check."""
        c = self.mask.sum(0).tolist()
        return {n: int(k) for n, k in zip(self.names, c, strict=True) if k}

    def of(self, i: int) -> list[str]:
        """The checks point ``i`` violates."""
        return [n for n, bad in zip(self.names, self.mask[i].tolist(), strict=True) if bad]


@dataclass
class ConstraintSet:
    """Features (in input column order), one-hot groups, named relations."""

    features: Sequence[Feature]
    groups: Sequence[OneHot] = ()
    relations: dict[str, Relation] = field(default_factory=dict)
    scaled: bool = False
    tolerance: float = DEFAULT_TOLERANCE

    def __post_init__(self) -> None:
        self.features = tuple(self.features)
        self.groups = tuple(self.groups)
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ConfigError("feature names must be unique")
        self.index = {n: i for i, n in enumerate(names)}
        for g in self.groups:
            for m in g.members:
                if m not in self.index:
                    raise ConfigError(f"one-hot group {g.name!r}: unknown feature {m!r}")
                if self.features[self.index[m]].type != "binary":
                    raise ConfigError(f"one-hot group {g.name!r}: member {m!r} must be binary")
        if self.scaled:
            inf = [
                f.name
                for f in self.features
                if not (math.isfinite(f.lower) and math.isfinite(f.upper))
            ]
            if inf:
                raise ConfigError(f"a scaled constraint set needs finite bounds; missing for {inf}")
        if not (self.tolerance >= 0 and math.isfinite(self.tolerance)):
            raise ConfigError(f"tolerance must be finite and >= 0, got {self.tolerance}")
        rels, self.relations = dict(self.relations), {}
        for n, r in rels.items():
            self.relate(r, name=n)

    # ------------------------------------------------------------------ declaring
    def __getitem__(self, name: str) -> Ref:
        """A reference to feature ``name`` for building relations with operators."""
        if name not in self.index:
            raise KeyError(f"unknown feature {name!r}")
        return Ref(name)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def relate(self, relation: Relation | str, *, name: str | None = None) -> ConstraintSet:
        """Add a relation (an expression tree or text); returns the set."""
        rel = parse_relation(relation, self.index) if isinstance(relation, str) else relation
        if not isinstance(rel, Relation):
            raise ConfigError(f"expected a relation, got {type(rel).__name__}")
        unknown = sorted(rel.features() - set(self.index))
        if unknown:
            raise ConfigError(f"relation {rel} reads unknown features {unknown}")
        key = name or f"r{len(self.relations)}"
        if key in self.relations:
            raise ConfigError(f"relation name {key!r} is used twice")
        self.relations[key] = rel
        return self

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> ConstraintSet:
        """From a mapping: ``features`` (list of dicts with ``name`` and optional ``type``,
        ``lower``, ``upper``, ``mutability``), ``groups`` (``name``, ``members``,
        ``mutability``), ``relations`` (a list of strings or a name -> string mapping),
        ``scaled``, ``tolerance``."""
        allowed = {"features", "groups", "relations", "scaled", "tolerance"}
        extra = set(cfg) - allowed
        if extra:
            raise ConfigError(
                f"unknown constraint keys {sorted(extra)}; allowed: {sorted(allowed)}"
            )
        try:
            feats = [Feature(**dict(f)) for f in cfg.get("features", [])]
            groups = [
                OneHot(g["name"], tuple(g["members"]), g.get("mutability", "mutable"))
                for g in cfg.get("groups", [])
            ]
        except (TypeError, KeyError) as exc:
            raise ConfigError(f"bad feature or group entry: {exc}") from None
        if not feats:
            raise ConfigError("a constraint set needs at least one feature")
        cs = cls(
            feats,
            groups=groups,
            scaled=bool(cfg.get("scaled", False)),
            tolerance=float(cfg.get("tolerance", DEFAULT_TOLERANCE)),
        )
        rels = cfg.get("relations", [])
        items: Iterable[tuple[str | None, Any]] = (
            rels.items() if isinstance(rels, Mapping) else ((None, r) for r in rels)
        )
        for n, text in items:
            if not isinstance(text, str):
                raise ConfigError(f"relations are strings, got {type(text).__name__}")
            cs.relate(text, name=n)
        return cs

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (the inverse of :meth:`from_config`)."""
        return {
            "features": [
                {
                    "name": f.name,
                    "type": f.type,
                    "lower": f.lower,
                    "upper": f.upper,
                    "mutability": f.mutability,
                }
                for f in self.features
            ],
            "groups": [
                {"name": g.name, "members": list(g.members), "mutability": g.mutability}
                for g in self.groups
            ],
            "relations": {k: str(r) for k, r in self.relations.items()},
            "scaled": self.scaled,
            "tolerance": self.tolerance,
        }

    def __repr__(self) -> str:
        return (
            f"ConstraintSet({len(self.features)} features, {len(self.groups)} one-hot groups, "
            f"{len(self.relations)} relations)"
        )

    # ------------------------------------------------------------------ spaces
    def _bounds(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lo = torch.tensor([f.lower for f in self.features], dtype=like.dtype, device=like.device)
        hi = torch.tensor([f.upper for f in self.features], dtype=like.dtype, device=like.device)
        return lo, hi

    def flat(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as ``(N, d)`` with ``d`` the number of features."""
        f = x.reshape(len(x), -1) if len(x) else x.reshape(0, len(self.features))
        if f.shape[1] != len(self.features):
            raise InputError(
                f"inputs have {f.shape[1]} features per point; the constraint set declares {len(self.features)}"
            )
        return f

    def to_raw(self, x: torch.Tensor) -> torch.Tensor:
        """Input values ``(N, d)`` -> raw values (float64; differentiable)."""
        x = self.flat(x).double()
        if not self.scaled:
            return x
        lo, hi = self._bounds(x)
        return lo + x * (hi - lo)

    def to_input(self, raw: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Raw values ``(N, d)`` -> input values of ``dtype``."""
        if self.scaled:
            lo, hi = self._bounds(raw)
            raw = (raw - lo) / torch.where(hi > lo, hi - lo, torch.ones_like(hi))
        return raw.to(dtype)

    def input_bounds(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-feature bounds in input units."""
        if self.scaled:
            z = torch.zeros(len(self.features), dtype=like.dtype, device=like.device)
            return z, z + 1
        return self._bounds(like)

    def columns(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        """Raw values ``(N, d)`` as a name -> column mapping (what relations read)."""
        return {n: raw[:, i] for n, i in self.index.items()}

    # ------------------------------------------------------------------ checking
    def penalty(self, x: torch.Tensor) -> torch.Tensor:
        """Per-point sum of the relations' penalties (Simonetto et al.; differentiable)."""
        raw = self.to_raw(x)
        total = torch.zeros(len(raw), dtype=raw.dtype, device=raw.device)
        if self.relations:
            cols = self.columns(raw)
            for rel in self.relations.values():
                total = total + rel.penalty(cols)
        return total

    def violations(self, x: torch.Tensor, x0: torch.Tensor | None = None) -> Violations:
        """Every check on the points ``x`` (mutability only when the clean points ``x0``
        are given)."""
        xi = self.flat(x).double()
        raw = self.to_raw(xi)
        names: list[str] = []
        cols: list[torch.Tensor] = []
        lo, hi = self.input_bounds(xi)
        slack = INPUT_ATOL * (1 + xi.abs())
        for j, f in enumerate(self.features):
            names.append(f"bounds:{f.name}")
            cols.append((xi[:, j] < lo[j] - slack[:, j]) | (xi[:, j] > hi[j] + slack[:, j]))
            if f.type != "real":
                near = raw[:, j].round().clamp(0, 1) if f.type == "binary" else raw[:, j].round()
                snapped = self.to_input(_with_column(raw, j, near), torch.float64)[:, j]
                names.append(f"{f.type}:{f.name}")
                cols.append((xi[:, j] - snapped).abs() > slack[:, j])
        for g in self.groups:
            idx = [self.index[m] for m in g.members]
            ones = raw[:, idx].round().sum(1)
            names.append(f"onehot:{g.name}")
            cols.append(ones != 1)
        if x0 is not None:
            x0f = self.flat(x0).double()
            s0 = INPUT_ATOL * (1 + x0f.abs())
            for j, f, mut in self.mutability():
                d = xi[:, j] - x0f[:, j]
                bad = {
                    "immutable": d.abs() > s0[:, j],
                    "increase": d < -s0[:, j],
                    "decrease": d > s0[:, j],
                }[mut]
                names.append(f"mutability:{f.name}")
                cols.append(bad)
        if self.relations:
            c = self.columns(raw)
            for key, rel in self.relations.items():
                names.append(f"relation:{key}")
                cols.append(~rel.holds(c, self.tolerance))
        mask = torch.stack(cols, 1) if cols else torch.zeros(len(xi), 0, dtype=torch.bool)
        return Violations(names, mask.cpu())

    def feasible(self, x: torch.Tensor, x0: torch.Tensor | None = None) -> torch.Tensor:
        """Per point: every check holds."""
        return self.violations(x, x0).feasible

    def mutability(self) -> list[tuple[int, Feature, str]]:
        """``(column, feature, mutability)`` for every constrained column (a group's
        mutability applies to its members)."""
        out = []
        group_mut = {m: g.mutability for g in self.groups for m in g.members}
        for j, f in enumerate(self.features):
            mut = "immutable" if group_mut.get(f.name) == "immutable" else f.mutability
            if mut != "mutable":
                out.append((j, f, mut))
        return out

    def immutable_columns(self) -> list[int]:
        """Columns the attacker cannot change at all."""
        return [j for j, _, m in self.mutability() if m == "immutable"]

    def definitions(self) -> list[tuple[int, Relation]]:
        """Equalities ``f == expr`` that define a mutable real feature ``f`` from others,
        in an order where every definition comes after those of the features it reads
        (``(column, relation)``); the repair computes these features exactly."""
        frozen = set(self.immutable_columns())
        found: dict[str, tuple[Ref | None, Any]] = {}
        for rel in self.relations.values():
            if not (isinstance(rel, Compare) and rel.op == "=="):
                continue
            for lhs, rhs in ((rel.left, rel.right), (rel.right, rel.left)):
                if (
                    isinstance(lhs, Ref)
                    and lhs.name not in found
                    and lhs.name not in rhs.features()
                    and self.features[self.index[lhs.name]].type == "real"
                    and self.index[lhs.name] not in frozen
                ):
                    found[lhs.name] = (lhs, rhs)
                    break
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(n: str) -> None:
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                raise ConfigError(f"the equalities defining {n!r} form a cycle")
            state[n] = 1
            for dep in found[n][1].features():
                if dep in found:
                    visit(dep)
            state[n] = 2
            order.append(n)

        for n in found:
            visit(n)
        return [(self.index[n], Compare("==", Ref(n), found[n][1])) for n in order]


def _with_column(raw: torch.Tensor, j: int, col: torch.Tensor) -> torch.Tensor:
    out = raw.clone()
    out[:, j] = col
    return out

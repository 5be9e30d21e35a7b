"""A small parser for relations written as text (assessment configs). It never evaluates
anything: the text is tokenised and parsed by recursive descent into the trees of
:mod:`advlab.constraints.expr`.

Grammar (``and`` binds tighter than ``or``; ``**`` is right-associative)::

    relation   := conj ("or" conj)*
    conj       := atom ("and" atom)*
    atom       := sum ("<=" | "<" | "==" | ">=" | ">") sum  |  "(" relation ")"
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | power
    power      := primary ("**" unary)?
    primary    := NUMBER | NAME | "(" sum ")"

Relations are at most 4,096 characters with parentheses nested at most 64 deep (the
parser recurses). Names are feature names (letters, digits, ``_``, ``.``; not starting with a digit); an
unknown name, a stray character or an unfinished expression is a :class:`ConfigError`
naming the position.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from advlab.constraints.expr import Const, Expr, Ref, Relation
from advlab.errors import ConfigError

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)"
    r"|(?P<op>\*\*|<=|>=|==|[-+*/()<>]))"
)
_MAX_LEN = 4096
_MAX_DEPTH = 64
_COMPARE = ("<=", "<", "==", ">=", ">")
_KEYWORDS = ("and", "or")


def tokenize(text: str) -> list[tuple[str, str, int]]:
    """``(kind, text, position)`` tokens; kind is ``num``, ``name``, ``op`` or ``kw``."""
    if len(text) > _MAX_LEN:
        raise ConfigError(f"relation longer than {_MAX_LEN} characters")
    out: list[tuple[str, str, int]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ConfigError(f"unexpected character {text[pos]!r} at {pos} in {text!r}")
        kind = m.lastgroup or "op"
        tok, start = m.group(kind), m.start(kind)
        if kind == "name" and tok in _KEYWORDS:
            kind = "kw"
        out.append((kind, tok, start))
        pos = m.end()
    depth = 0
    for _, tok, start in out:
        depth += (tok == "(") - (tok == ")")
        if depth > _MAX_DEPTH:
            raise ConfigError(f"parentheses nested deeper than {_MAX_DEPTH} at {start}")
    return out


class _Parser:
    def __init__(self, text: str, names: Collection[str] | None) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.names = None if names is None else set(names)

    # helpers
    def peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self, want: str | None = None) -> tuple[str, str, int]:
        if self.i >= len(self.toks):
            raise ConfigError(
                f"unexpected end of {self.text!r}" + (f"; expected {want!r}" if want else "")
            )
        tok = self.toks[self.i]
        if want is not None and tok[1] != want:
            raise ConfigError(f"expected {want!r} at {tok[2]} in {self.text!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    # grammar
    def relation(self) -> Relation:
        rel = self.conj()
        while self.peek() == "or":
            self.take()
            rel = rel | self.conj()
        return rel

    def conj(self) -> Relation:
        rel = self.atom()
        while self.peek() == "and":
            self.take()
            rel = rel & self.atom()
        return rel

    def atom(self) -> Relation:
        start = self.i
        left: Expr | None = None
        if self.peek() == "(":  # a parenthesised sum or a parenthesised relation
            try:
                left = self.sum()
            except ConfigError:
                self.i = start
        else:
            left = self.sum()
        if left is not None and self.peek() in _COMPARE:
            op = self.take()[1]
            right = self.sum()
            return {
                "<=": left <= right,
                "<": left < right,
                "==": left == right,
                ">=": left >= right,
                ">": left > right,
            }[op]
        self.i = start
        if self.peek() == "(":
            self.take("(")
            rel = self.relation()
            self.take(")")
            return rel
        if self.i < len(self.toks):
            raise ConfigError(
                f"expected a comparison (<=, <, ==, >=, >) at {self.toks[self.i][2]} in {self.text!r}"
            )
        raise ConfigError(f"unexpected end of {self.text!r}; expected a comparison")

    def sum(self) -> Expr:
        e = self.product()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            r = self.product()
            e = e + r if op == "+" else e - r
        return e

    def product(self) -> Expr:
        e = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()[1]
            r = self.unary()
            e = e * r if op == "*" else e / r
        return e

    def unary(self) -> Expr:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        return self.power()

    def power(self) -> Expr:
        base = self.primary()
        if self.peek() == "**":
            self.take()
            return base ** self.unary()
        return base

    def primary(self) -> Expr:
        kind, tok, pos = self.take()
        if kind == "num":
            return Const(float(tok))
        if kind == "name":
            if self.names is not None and tok not in self.names:
                raise ConfigError(f"unknown feature {tok!r} at {pos} in {self.text!r}")
            return Ref(tok)
        if tok == "(":
            e = self.sum()
            self.take(")")
            return e
        raise ConfigError(f"unexpected {tok!r} at {pos} in {self.text!r}")


def parse_relation(text: str, names: Collection[str] | None = None) -> Relation:
    """Parse ``text`` into a relation; ``names``: the known features (``None``: any)."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("a relation must be a non-empty string")
    p = _Parser(text, names)
    try:
        rel = p.relation()
    except RecursionError:
        raise ConfigError(f"relation nested too deeply: {text[:60]!r}...") from None
    if p.i != len(p.toks):
        kind, tok, pos = p.toks[p.i]
        raise ConfigError(f"unexpected {tok!r} at {pos} in {text!r}")
    return rel


def parse_expr(text: str, names: Collection[str] | None = None) -> Expr:
    """Parse a numeric expression (no comparison)."""
    p = _Parser(text, names)
    try:
        e = p.sum()
    except RecursionError:
        raise ConfigError(f"expression nested too deeply: {text[:60]!r}...") from None
    if p.i != len(p.toks):
        raise ConfigError(f"unexpected {p.toks[p.i][1]!r} at {p.toks[p.i][2]} in {text!r}")
    return e

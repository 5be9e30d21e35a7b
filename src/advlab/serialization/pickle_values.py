"""Building blocks of the static pickle analyser: symbolic values, the byte reader, results.

Nothing here imports or calls anything named by a pickle; see
:mod:`advlab.serialization.pickle_analysis` for the analysis itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from advlab.serialization.findings import Finding

TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
MAX_LITERAL = 1024
"""Strings/bytes longer than this are kept only as their length (never useful as a name)."""


class PickleParseError(Exception):
    """The byte stream is not a valid pickle at ``offset``."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at offset {offset}")
        self.offset = offset


# ---------------------------------------------------------------- symbolic values
@dataclass(eq=False)
class GlobalRef:
    module: str
    name: str
    offset: int
    allowed: bool

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(eq=False)
class CallResult:
    func: Any
    args: Any
    offset: int
    opcode: str
    used: bool = False
    state: Any = None


@dataclass(eq=False)
class Opaque:
    """A value the analyser cannot know (persistent id, buffer, long literal, ...)."""

    what: str


@dataclass(eq=False)
class _Mark:
    pass


_MARK = _Mark()


# ---------------------------------------------------------------- byte reader
class _Reader:
    def __init__(self, buf: Any, pos: int, end: int) -> None:
        self.buf = buf
        self.pos = pos
        self.end = end

    def read(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise PickleParseError(f"truncated: need {n} bytes", self.pos)
        data = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return data

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.end:
            raise PickleParseError(f"truncated: cannot skip {n} bytes", self.pos)
        self.pos += n

    def readline(self) -> bytes:
        i = self.buf.find(b"\n", self.pos, self.end)
        if i < 0:
            raise PickleParseError("missing newline", self.pos)
        data = bytes(self.buf[self.pos : i])
        self.pos = i + 1
        return data

    def uint(self, n: int) -> int:
        return int.from_bytes(self.read(n), "little", signed=False)

    def u1(self) -> int:
        p = self.pos
        if p >= self.end:
            raise PickleParseError("truncated: need 1 byte", p)
        self.pos = p + 1
        return int(self.buf[p])

    def sized(self, n: int) -> Any:
        """Read ``n`` bytes, keeping only an :class:`Opaque` placeholder for long data."""
        if n > MAX_LITERAL:
            self.skip(n)
            return Opaque(f"{n}-byte literal")
        return self.read(n)


def _text(data: Any, encoding: str = "utf-8") -> Any:
    if isinstance(data, Opaque):
        return data
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise PickleParseError(f"undecodable string ({exc.reason})", 0) from exc


def _decimal(line: bytes, pos: int) -> int | bool:
    if line in (b"00", b"01"):
        return line == b"01"
    try:
        return int(line.rstrip(b"L") or b"x", 10)
    except ValueError as exc:
        raise PickleParseError("bad decimal literal", pos) from exc


def _quoted(line: bytes, pos: int) -> Any:
    if len(line) >= 2 and line[0] == line[-1] and line[:1] in (b"'", b'"'):
        return line[1:-1].decode("latin-1")[:MAX_LITERAL]
    raise PickleParseError("STRING opcode argument not quoted", pos)


# ---------------------------------------------------------------- analysis state
@dataclass
class PickleAnalysis:
    """Outcome of analysing one byte range that may hold several pickles."""

    findings: list[Finding] = field(default_factory=list)
    globals: list[str] = field(default_factory=list)
    pickles: int = 0
    end: int = 0
    error: str | None = None
    is_pickle: bool = False
    torch_legacy: bool = False


# ---------------------------------------------------------------- helpers
def _float(line: bytes, pos: int) -> float:
    try:
        return float(line)
    except ValueError as exc:
        raise PickleParseError("bad float literal", pos) from exc


def _long(r: _Reader, n: int, pos: int) -> int | Opaque:
    if n < 0:
        raise PickleParseError("negative LONG size", pos)
    if n > 64:
        r.skip(n)
        return Opaque("long integer")
    return int.from_bytes(r.read(n), "little", signed=True)


def _hashable(v: Any) -> Any:
    try:
        hash(v)
        return v
    except TypeError:
        return Opaque("unhashable key")


def _describe(v: Any, depth: int = 0) -> str:
    if isinstance(v, GlobalRef):
        return v.qualname
    if isinstance(v, CallResult):
        return f"<result of {_describe(v.func, depth + 1)}(...)>"
    if isinstance(v, Opaque):
        return f"<{v.what}>"
    if isinstance(v, tuple) and depth < 2:
        return "(" + ", ".join(_describe(x, depth + 1) for x in v[:6]) + ")"
    text = repr(v)
    return text if len(text) <= 120 else text[:117] + "..."


def _allowed_callable(func: Any) -> bool:
    return isinstance(func, GlobalRef) and func.allowed


def _latin1_args(args: Any) -> bool:
    return (
        isinstance(args, tuple)
        and len(args) == 2
        and isinstance(args[0], (str, Opaque))
        and args[1] in ("latin1", "latin-1")
    )


def _is_joblib_wrapper(call: CallResult) -> bool:
    f = call.func
    return isinstance(f, GlobalRef) and f.qualname == "joblib.numpy_pickle.NumpyArrayWrapper"


_DTYPE_STR = re.compile(r"^[<>|=]?([?bBhHiIlLqQpPefdgFDGSaUVOMmc])(\d*)(\[\w+\])?$")


def _dtype_itemsize(dtype: Any) -> tuple[int | None, bool]:
    """Itemsize of a symbolic ``numpy.dtype(...)`` call plus BUILD state, without numpy."""
    if not (isinstance(dtype, CallResult) and isinstance(dtype.func, GlobalRef)):
        return None, False
    if dtype.func.qualname != "numpy.dtype" or not isinstance(dtype.args, tuple) or not dtype.args:
        return None, False
    spec = dtype.args[0]
    if not isinstance(spec, str):
        return None, False
    m = _DTYPE_STR.match(spec)
    if not m:
        return None, False
    kind, digits = m.group(1), m.group(2)
    state = dtype.state
    if isinstance(state, tuple) and len(state) >= 6:
        fields = state[4]
        if isinstance(fields, dict) and any(_field_has_object(v) for v in fields.values()):
            return None, True
        if isinstance(state[5], int) and state[5] > 0:
            return state[5], False
    if kind == "O":
        return None, True
    if kind == "?":
        return 1, False
    if not digits:
        fixed = {
            "b": 1,
            "B": 1,
            "h": 2,
            "H": 2,
            "i": 4,
            "I": 4,
            "l": 8,
            "L": 8,
            "q": 8,
            "Q": 8,
            "e": 2,
            "f": 4,
            "d": 8,
            "g": 16,
            "F": 8,
            "D": 16,
            "G": 32,
        }
        return fixed.get(kind), False
    size = int(digits)
    return (size * 4 if kind == "U" else size), False


def _field_has_object(v: Any) -> bool:
    if isinstance(v, tuple) and v:
        _, is_obj = _dtype_itemsize(v[0])
        return is_obj
    return False

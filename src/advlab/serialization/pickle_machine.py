"""The symbolic unpickler: simulates one pickle's opcodes on stack, mark stack and memo.

Used by :func:`advlab.serialization.pickle_analysis.analyze_pickles`; never imports or calls
anything named by the pickle.
"""

from __future__ import annotations

import logging
import math
import struct
import time
from collections.abc import Callable
from typing import Any

from advlab.serialization.findings import Finding, Severity
from advlab.serialization.pickle_values import (
    MAX_LITERAL,
    CallResult,
    GlobalRef,
    Opaque,
    PickleAnalysis,
    PickleParseError,
    _allowed_callable,
    _decimal,
    _describe,
    _dtype_itemsize,
    _float,
    _hashable,
    _is_joblib_wrapper,
    _latin1_args,
    _long,
    _quoted,
    _Reader,
    _text,
)
from advlab.serialization.policy import Policy, fix_imports

log = logging.getLogger(__name__)


class _Machine:
    """Symbolic unpickler for exactly one pickle (up to and including STOP)."""

    def __init__(
        self,
        reader: _Reader,
        location: str,
        policy: Policy,
        out: PickleAnalysis,
        deadline: float,
        depth: int,
    ) -> None:
        self.r = reader
        self.location = location
        self.policy = policy
        self.out = out
        self.deadline = deadline
        self.depth = depth
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        self.calls: list[CallResult] = []
        self.proto = 0
        self.code_ops = 0
        self.result: Any = None
        self.ops: dict[int, Callable[[int], None]] = self._dispatch()

    # -- reporting
    def _find(self, rule: str, sev: Severity, msg: str, offset: int, **detail: Any) -> None:
        self.out.findings.append(Finding(rule, sev, msg, self.location, offset, dict(detail)))

    # -- stack helpers
    def _pop(self, pos: int) -> Any:
        if not self.stack:
            raise PickleParseError("stack underflow", pos)
        return self.stack.pop()

    def _top(self, pos: int) -> Any:
        if not self.stack:
            raise PickleParseError("stack underflow", pos)
        return self.stack[-1]

    def _pop_mark(self, pos: int) -> list[Any]:
        if not self.metastack:
            raise PickleParseError("MARK expected", pos)
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def _use(self, *values: Any) -> None:
        if not self.calls:  # nothing to mark yet (fast path for data-only pickles)
            return
        for v in values:
            if isinstance(v, CallResult):
                v.used = True
            elif isinstance(v, (list, tuple)) and len(v) <= 64:
                for item in v:
                    if isinstance(item, CallResult):
                        item.used = True

    # -- main loop
    def run(self) -> None:
        r, ops, deadline = self.r, self.ops, self.deadline
        buf, end = r.buf, r.end
        n = 0
        while True:
            pos = r.pos
            if pos >= end:
                raise PickleParseError("pickle ended without STOP", pos)
            code = buf[pos]
            r.pos = pos + 1
            if code == 0x2E:  # STOP
                self._stop(pos)
                return
            handler = ops.get(code)
            if handler is None:
                raise PickleParseError(f"invalid opcode {code:#04x}", pos)
            handler(pos)
            n += 1
            if not n & 0xFFF and time.monotonic() > deadline:
                raise TimeoutError(f"analysis time budget exhausted at offset {pos}")

    def _stop(self, pos: int) -> None:
        self.result = self.stack[-1] if self.stack else None
        if isinstance(self.result, CallResult):
            self.result.used = True
        leftovers = self.stack[:-1] + [v for frame in self.metastack for v in frame]
        if any(not c.used for c in self.calls):
            self._use_nested(self.result)
        for call in self.calls:
            if not call.used or any(call is v for v in leftovers):
                func = call.func.qualname if isinstance(call.func, GlobalRef) else "<dynamic>"
                sev = Severity.HIGH if not _allowed_callable(call.func) else Severity.LOW
                self._find(
                    "pickle.discarded-call",
                    sev,
                    f"result of call to {func} is discarded (typical of an injected payload)",
                    call.offset,
                    callable=func,
                )

    def _use_nested(self, value: Any, budget: int = 5_000_000) -> None:
        """Mark calls reachable from the final result as used (iterative, bounded)."""
        todo = [value]
        seen: set[int] = set()
        while todo and budget > 0:
            budget -= 1
            v = todo.pop()
            if id(v) in seen:
                continue
            seen.add(id(v))
            if isinstance(v, CallResult):
                v.used = True
                todo.extend((v.func, v.args, v.state))
            elif isinstance(v, (list, tuple, set, frozenset)):
                todo.extend(v)
            elif isinstance(v, dict):
                todo.extend(v.keys())
                todo.extend(v.values())

    # -- global resolution
    def _global(self, module: Any, name: Any, pos: int, via: str) -> GlobalRef:
        self.code_ops += 1
        if not isinstance(module, str) or not isinstance(name, str):
            self._find(
                "pickle.dynamic-global",
                Severity.HIGH,
                f"{via} with non-literal module/name: the imported object cannot be known",
                pos,
            )
            return GlobalRef("<dynamic>", "<dynamic>", pos, False)
        if self.proto < 3:
            module, name = fix_imports(module, name)
        ref = GlobalRef(module, name, pos, False)
        verdict = self.policy.classify(module, name)
        ref.allowed = verdict.allowed
        self.out.globals.append(ref.qualname)
        if verdict.allowed:
            if verdict.severity is Severity.INFO and verdict.reason != "allowlisted":
                self._find(
                    "pickle.trusted-global",
                    Severity.INFO,
                    verdict.reason,
                    pos,
                    globals=ref.qualname,
                )
        else:
            self._find(
                "pickle.global",
                verdict.severity,
                f"imports {ref.qualname} ({verdict.reason})",
                pos,
                globals=ref.qualname,
            )
        return ref

    def _call(self, func: Any, args: Any, pos: int, opcode: str) -> CallResult:
        self.code_ops += 1
        self._use(func, args)
        if isinstance(func, GlobalRef):
            if not func.allowed:
                sev = max(self.policy.classify(func.module, func.name).severity, Severity.HIGH)
                if func.module == "<dynamic>":
                    sev = Severity.CRITICAL
                if self.policy.is_sklearn_class(func.module, func.name):
                    sev = Severity.MEDIUM
                self._find(
                    "pickle.call",
                    sev,
                    f"calls {func.qualname} via {opcode}",
                    pos,
                    callable=func.qualname,
                    args=_describe(args),
                )
            elif func.qualname == "_codecs.encode" and not _latin1_args(args):
                self._find(
                    "pickle.call",
                    Severity.HIGH,
                    "_codecs.encode with a non-latin1 codec",
                    pos,
                    callable=func.qualname,
                    args=_describe(args),
                )
        else:
            self._find(
                "pickle.dynamic-call",
                Severity.HIGH,
                f"{opcode} calls a non-global callable ({_describe(func)}): "
                "getattr/attrgetter-style chain",
                pos,
                callable=_describe(func),
            )
        call = CallResult(func, args, pos, opcode)
        self.calls.append(call)
        return call

    # -- opcode table
    def _dispatch(self) -> dict[int, Callable[[int], None]]:
        r = self.r
        push = self.stack_push
        t: dict[str, Callable[[int], None]] = {
            "(": lambda p: self._mark(),
            ")": lambda p: push(()),
            "0": self._op_pop,
            "1": self._op_pop_mark,
            "2": lambda p: push(self._top(p)),
            "B": lambda p: push(r.sized(r.uint(4))),
            "C": lambda p: push(r.sized(r.u1())),
            "\x8e": lambda p: push(r.sized(r.uint(8))),
            "\x96": lambda p: push(r.sized(r.uint(8))),
            "F": lambda p: push(_float(r.readline(), p)),
            "G": lambda p: push(struct.unpack(">d", r.read(8))[0]),
            "I": lambda p: push(_decimal(r.readline(), p)),
            "J": lambda p: push(int.from_bytes(r.read(4), "little", signed=True)),
            "K": lambda p: push(r.u1()),
            "M": lambda p: push(r.uint(2)),
            "L": lambda p: push(_decimal(r.readline(), p)),
            "\x8a": lambda p: push(_long(r, r.u1(), p)),
            "\x8b": lambda p: push(_long(r, int.from_bytes(r.read(4), "little", signed=True), p)),
            "N": lambda p: push(None),
            "\x88": lambda p: push(True),
            "\x89": lambda p: push(False),
            "S": lambda p: push(_quoted(r.readline(), p)),
            "T": lambda p: push(
                _text(r.sized(int.from_bytes(r.read(4), "little", signed=True)), "latin-1")
            ),
            "U": lambda p: push(_text(r.sized(r.u1()), "latin-1")),
            "V": lambda p: push(_text(r.readline()[:MAX_LITERAL], "raw-unicode-escape")),
            "X": lambda p: push(_text(r.sized(r.uint(4)))),
            "\x8c": lambda p: push(_text(r.sized(r.u1()))),
            "\x8d": lambda p: push(_text(r.sized(r.uint(8)))),
            "]": lambda p: push([]),
            "}": lambda p: push({}),
            "\x8f": lambda p: push(set()),
            "a": self._op_append,
            "e": self._op_appends,
            "l": lambda p: push(list(self._pop_mark(p))),
            "t": lambda p: push(tuple(self._pop_mark(p))),
            "\x85": lambda p: push((self._pop(p),)),
            "\x86": self._op_tuple2,
            "\x87": self._op_tuple3,
            "d": self._op_dict,
            "s": self._op_setitem,
            "u": self._op_setitems,
            "\x90": self._op_additems,
            "\x91": lambda p: push(frozenset(_hashable(v) for v in self._pop_mark(p))),
            "p": lambda p: self._put(_decimal(r.readline(), p), p),
            "q": lambda p: self._put(r.u1(), p),
            "r": lambda p: self._put(r.uint(4), p),
            "\x94": lambda p: self._put(len(self.memo), p),
            "g": lambda p: self._get(_decimal(r.readline(), p), p),
            "h": lambda p: self._get(r.u1(), p),
            "j": lambda p: self._get(r.uint(4), p),
            "c": self._op_global,
            "i": self._op_inst,
            "\x93": self._op_stack_global,
            "R": self._op_reduce,
            "o": self._op_obj,
            "\x81": self._op_newobj,
            "\x92": self._op_newobj_ex,
            "b": self._op_build,
            "\x82": lambda p: self._ext(r.uint(1), p),
            "\x83": lambda p: self._ext(r.uint(2), p),
            "\x84": lambda p: self._ext(int.from_bytes(r.read(4), "little", signed=True), p),
            "P": lambda p: self._persid(r.readline(), p),
            "Q": lambda p: self._persid(self._pop(p), p),
            "\x80": self._op_proto,
            "\x95": lambda p: r.skip(0 * r.uint(8)),
            "\x97": lambda p: push(Opaque("out-of-band buffer")),
            "\x98": lambda p: None,
            ".": lambda p: None,
        }
        return {ord(k): v for k, v in t.items()}

    def stack_push(self, value: Any) -> None:
        self.stack.append(value)

    def _mark(self) -> None:
        self.metastack.append(self.stack)
        self.stack = []

    def _op_proto(self, pos: int) -> None:
        self.proto = self.r.u1()
        if self.proto > 5:
            raise PickleParseError(f"unsupported pickle protocol {self.proto}", pos)

    def _op_pop(self, pos: int) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self._pop_mark(pos)

    def _op_pop_mark(self, pos: int) -> None:
        self._pop_mark(pos)

    def _op_tuple2(self, pos: int) -> None:
        b = self._pop(pos)
        a = self._pop(pos)
        self.stack.append((a, b))

    def _op_tuple3(self, pos: int) -> None:
        c = self._pop(pos)
        b = self._pop(pos)
        a = self._pop(pos)
        self.stack.append((a, b, c))

    def _op_append(self, pos: int) -> None:
        value = self._pop(pos)
        target = self._top(pos)
        self._use(value)
        if isinstance(target, list) and len(target) < 1_000_000:
            target.append(value)

    def _op_appends(self, pos: int) -> None:
        items = self._pop_mark(pos)
        target = self._top(pos)
        self._use(*items)
        if isinstance(target, list) and len(target) < 1_000_000:
            target.extend(items)

    def _op_dict(self, pos: int) -> None:
        items = self._pop_mark(pos)
        self._use(*items)
        d: dict[Any, Any] = {}
        for i in range(0, len(items) - 1, 2):
            d[_hashable(items[i])] = items[i + 1]
        self.stack.append(d)

    def _op_setitem(self, pos: int) -> None:
        value = self._pop(pos)
        key = self._pop(pos)
        target = self._top(pos)
        self._use(key, value)
        if isinstance(target, dict) and len(target) < 1_000_000:
            target[_hashable(key)] = value

    def _op_setitems(self, pos: int) -> None:
        items = self._pop_mark(pos)
        target = self._top(pos)
        self._use(*items)
        if isinstance(target, dict) and len(target) < 1_000_000:
            for i in range(0, len(items) - 1, 2):
                target[_hashable(items[i])] = items[i + 1]

    def _op_additems(self, pos: int) -> None:
        items = self._pop_mark(pos)
        target = self._top(pos)
        self._use(*items)
        if isinstance(target, set) and len(target) < 1_000_000:
            target.update(_hashable(v) for v in items)

    def _put(self, idx: int | bool, pos: int) -> None:
        if int(idx) < 0:
            raise PickleParseError("negative memo index", pos)
        self.memo[int(idx)] = self._top(pos)

    def _get(self, idx: int | bool, pos: int) -> None:
        try:
            self.stack.append(self.memo[int(idx)])
        except KeyError as exc:
            raise PickleParseError(f"memo key {int(idx)} missing", pos) from exc

    def _op_global(self, pos: int) -> None:
        module = _text(self.r.readline())
        name = _text(self.r.readline())
        self.stack.append(self._global(module, name, pos, "GLOBAL"))

    def _op_stack_global(self, pos: int) -> None:
        name = self._pop(pos)
        module = self._pop(pos)
        self._use(name, module)
        self.stack.append(self._global(module, name, pos, "STACK_GLOBAL"))

    def _op_inst(self, pos: int) -> None:
        module = _text(self.r.readline())
        name = _text(self.r.readline())
        cls = self._global(module, name, pos, "INST")
        args = tuple(self._pop_mark(pos))
        self.stack.append(self._call(cls, args, pos, "INST"))

    def _op_obj(self, pos: int) -> None:
        items = self._pop_mark(pos)
        if not items:
            raise PickleParseError("OBJ without class", pos)
        self.stack.append(self._call(items[0], tuple(items[1:]), pos, "OBJ"))

    def _op_reduce(self, pos: int) -> None:
        args = self._pop(pos)
        func = self._pop(pos)
        self.stack.append(self._call(func, args, pos, "REDUCE"))

    def _op_newobj(self, pos: int) -> None:
        args = self._pop(pos)
        cls = self._pop(pos)
        self.stack.append(self._call(cls, args, pos, "NEWOBJ"))

    def _op_newobj_ex(self, pos: int) -> None:
        kwargs = self._pop(pos)
        args = self._pop(pos)
        cls = self._pop(pos)
        self._use(kwargs)
        self.stack.append(self._call(cls, args, pos, "NEWOBJ_EX"))

    def _op_build(self, pos: int) -> None:
        state = self._pop(pos)
        obj = self._top(pos)
        self.code_ops += 1
        self._use(state)
        if isinstance(state, dict):
            self._use(*state.values())
        if isinstance(obj, GlobalRef):
            self._find(
                "pickle.build-global",
                Severity.HIGH,
                f"BUILD sets attributes on the imported object {obj.qualname} "
                "(global state tampering)",
                pos,
                target=obj.qualname,
            )
        elif isinstance(obj, CallResult):
            obj.state = state
            if _is_joblib_wrapper(obj):
                obj.used = True
                self.stack[-1] = self._joblib_array(obj, state, pos)
        elif not isinstance(obj, (dict, list, set)):
            # BUILD on a literal or unknown object calls its __setstate__ / __dict__.update
            if isinstance(obj, Opaque):
                self._find(
                    "pickle.build-unknown",
                    Severity.MEDIUM,
                    f"BUILD on an unknown object ({obj.what})",
                    pos,
                )

    def _ext(self, code: int, pos: int) -> None:
        self.code_ops += 1
        self._find(
            "pickle.ext",
            Severity.HIGH,
            f"EXT opcode with code {code}: resolves a global through the copyreg extension "
            "registry, which static analysis cannot see",
            pos,
            code=code,
        )
        self.stack.append(GlobalRef("<copyreg-extension>", str(code), pos, False))

    def _persid(self, pid: Any, pos: int) -> None:
        self.code_ops += 1
        self._use(pid)
        self.stack.append(Opaque("persistent id"))

    # -- joblib
    def _joblib_array(self, wrapper: CallResult, state: Any, pos: int) -> Opaque:
        if not isinstance(state, dict):
            raise PickleParseError("joblib NumpyArrayWrapper without dict state", pos)
        dtype = state.get("dtype")
        shape = state.get("shape")
        if not isinstance(shape, tuple) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
        ):
            raise PickleParseError("joblib array with non-literal shape", pos)
        itemsize, is_object = _dtype_itemsize(dtype)
        if is_object:
            if self.depth > 8:
                raise PickleParseError("joblib object arrays nested too deeply", pos)
            sub = _Machine(
                self.r, self.location, self.policy, self.out, self.deadline, self.depth + 1
            )
            sub.run()
            return Opaque("joblib object array")
        if itemsize is None:
            raise PickleParseError("joblib array with unknown dtype size", pos)
        if "numpy_array_alignment_bytes" in state and state["numpy_array_alignment_bytes"]:
            self.r.skip(self.r.uint(1))
        self.r.skip(math.prod(shape) * itemsize)
        return Opaque("joblib array")

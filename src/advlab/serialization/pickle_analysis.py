"""Static pickle analysis: a symbolic pickle machine that never imports or calls anything.

The analyser decodes opcodes itself (protocols 0-5, several pickles in a row) and simulates the
unpickler's stack, mark stack and memo, so that ``STACK_GLOBAL`` operands fed through
``MEMOIZE``/``PUT``/``GET`` resolve exactly as at load time, while operands that are *not*
literals (results of calls, persistent ids, out-of-band buffers) are treated as unknown. Every
global reference is classified by :mod:`advlab.serialization.policy`; every call
(``REDUCE``, ``INST``, ``OBJ``, ``NEWOBJ``, ``NEWOBJ_EX``) of a non-allowlisted or dynamic
callable is a finding; a call whose result is discarded (``POP``, ``POP_MARK`` or left on the
stack at ``STOP``) is flagged because that is how injected payloads hide in front of a real
model (see Trail of Bits, "Never a dill moment: Exploiting machine learning pickle files",
2021, and fickling's ``UnusedVariables`` check). Findings made before a parse error are kept:
a loader executes every opcode before the broken one ("The Art of Hide and Seek: Making
Pickle-Based Model Supply Chain Poisoning Stealthy Again", arXiv 2508.19774; JFrog's
picklescan advisories, e.g. CVE-2025-1716 and GHSA-gx77-x2pv-48v7).

joblib writes raw array bytes *inside* the pickle stream after each ``NumpyArrayWrapper``
``BUILD``; the analyser skips exactly those bytes (and analyses the nested pickle of object
arrays) the way ``joblib.numpy_pickle.NumpyUnpickler`` reads them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from advlab.serialization.findings import Finding, Severity
from advlab.serialization.pickle_machine import _Machine
from advlab.serialization.pickle_values import (
    MAX_LITERAL,
    TORCH_LEGACY_MAGIC,
    CallResult,
    GlobalRef,
    Opaque,
    PickleAnalysis,
    PickleParseError,
    _Reader,
)
from advlab.serialization.policy import Policy

log = logging.getLogger(__name__)

__all__ = [
    "MAX_LITERAL",
    "TORCH_LEGACY_MAGIC",
    "CallResult",
    "GlobalRef",
    "Opaque",
    "PickleAnalysis",
    "PickleParseError",
    "analyze_pickles",
]


def _finding_for_error(loc: str, exc: PickleParseError, code_ops: int) -> Finding:
    return Finding(
        "pickle.malformed",
        Severity.MEDIUM,
        f"pickle stream breaks after code-bearing opcodes ({exc}); a loader executes "
        "everything before the break",
        loc,
        exc.offset,
        {"code_ops_before_error": code_ops},
    )


def analyze_pickles(
    buf: Any,
    location: str,
    policy: Policy | None = None,
    *,
    start: int = 0,
    end: int | None = None,
    time_budget_s: float = 30.0,
    max_pickles: int = 1024,
) -> PickleAnalysis:
    """Analyse every pickle stored back to back in ``buf[start:end]``.

    ``buf`` is anything supporting slicing and ``find`` (bytes, bytearray, mmap). Nothing is
    imported or executed. The result's ``is_pickle`` is False when the data does not look like a
    pickle at all (invalid first opcode, or a short parse failure with no code-bearing opcode).
    """
    policy = policy or Policy()
    end = len(buf) if end is None else end
    out = PickleAnalysis(end=start)
    deadline = time.monotonic() + time_budget_s
    pos = start
    while pos < end and out.pickles < max_pickles:
        reader = _Reader(buf, pos, end)
        before = len(out.findings)
        m = _Machine(reader, location, policy, out, deadline, 0)
        starts_with_proto = buf[pos] == 0x80
        try:
            m.run()
        except PickleParseError as exc:
            if m.code_ops == 0 and not (starts_with_proto and out.pickles == 0):
                # not a pickle (or trailing non-pickle data): nothing could have executed
                del out.findings[before:]
                if out.pickles == 0:
                    out.error = f"not a pickle: {exc}"
                else:
                    out.findings.append(
                        Finding(
                            "pickle.trailing-data",
                            Severity.INFO,
                            f"{end - pos} bytes of non-pickle data after pickle #{out.pickles}",
                            location,
                            pos,
                        )
                    )
                break
            out.is_pickle = True
            out.error = str(exc)
            if m.code_ops:
                out.findings.append(_finding_for_error(location, exc, m.code_ops))
            else:
                out.findings.append(
                    Finding(
                        "pickle.malformed",
                        Severity.LOW,
                        f"malformed pickle with no code-bearing opcodes ({exc})",
                        location,
                        exc.offset,
                    )
                )
            out.end = reader.pos
            break
        except TimeoutError as exc:
            out.is_pickle = True
            out.error = str(exc)
            out.findings.append(
                Finding(
                    "pickle.budget",
                    Severity.MEDIUM,
                    f"{exc}; the rest of the stream is unanalysed",
                    location,
                    reader.pos,
                )
            )
            break
        except RecursionError as exc:  # pragma: no cover - defensive
            out.error = f"recursion: {exc}"
            out.findings.append(
                Finding(
                    "pickle.budget",
                    Severity.MEDIUM,
                    "pickle nesting too deep to analyse",
                    location,
                    pos,
                )
            )
            break
        out.is_pickle = True
        out.pickles += 1
        pos = reader.pos
        out.end = pos
        if out.pickles == 1 and m.result == TORCH_LEGACY_MAGIC and m.code_ops == 0:
            out.torch_legacy = True
        if out.torch_legacy and out.pickles == 5:
            if pos < end:
                out.findings.append(
                    Finding(
                        "torch.legacy-storage",
                        Severity.INFO,
                        f"legacy torch checkpoint: {end - pos} bytes of raw storage data follow "
                        "(never unpickled by torch.load)",
                        location,
                        pos,
                    )
                )
            break
    if out.pickles >= max_pickles and pos < end:
        out.findings.append(
            Finding(
                "pickle.budget",
                Severity.MEDIUM,
                f"more than {max_pickles} pickles in a row; rest unanalysed",
                location,
                pos,
            )
        )
    return out

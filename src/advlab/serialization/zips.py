"""Forgiving zip reader: every member on its own, raw data decompressed under the budget.

Members are located through the central directory like ``torch``'s miniz reader, but their raw
data is read and decompressed here (:func:`advlab.serialization.containers.decompress_member`):
CRC mismatches, the "encrypted" flag bit and local/central name mismatches are LOW findings, not
failures. A member whose compressed data is truncated or corrupt yields what was decoded before
the damage, with a HIGH ``container.corrupt-stream`` finding. Each member is processed independently: a member that cannot be read, uses an
unsupported compression method or trips an internal error becomes a finding *for that member*
and the walk continues with the next one, so nothing placed after it can hide.
"""

from __future__ import annotations

import logging
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any

from advlab.serialization.containers import (
    Budget,
    ContainerError,
    CorruptStream,
    DecompressionBomb,
    LimitExceeded,
    Member,
    UnsupportedMethod,
    decompress_member,
)
from advlab.serialization.findings import Finding, Severity

log = logging.getLogger(__name__)

_PARSE_ERRORS = (
    zipfile.BadZipFile,
    OSError,
    ValueError,
    EOFError,
    NotImplementedError,
    struct.error,
    KeyError,
    IndexError,
    OverflowError,
)


def internal_error(loc: str, exc: BaseException) -> Finding:
    """A scanner bug on one member: HIGH, because that member's content is unanalysed."""
    return Finding(
        "scan.internal-error",
        Severity.HIGH,
        f"internal scanner error ({type(exc).__name__}: {str(exc)[:200]}); member not analysed",
        loc,
    )


def bomb_finding(loc: str, exc: LimitExceeded) -> Finding:
    """The finding for a tripped limit (a decompression bomb is HIGH, other limits MEDIUM)."""
    loc = exc.location or loc
    if isinstance(exc, DecompressionBomb):
        return Finding(
            exc.rule, Severity.HIGH, f"decompression bomb: {exc}; not decompressed further", loc
        )
    return Finding(exc.rule, Severity.MEDIUM, f"{exc}; content not fully scanned", loc)


def _payload(fileobj: IO[bytes], info: zipfile.ZipInfo) -> tuple[bytes, list[str]]:
    """Raw (still compressed) bytes of a member, located like miniz does."""
    notes: list[str] = []
    if info.header_offset < 0 or info.compress_size < 0:
        raise ContainerError(f"bad offsets for {info.filename!r}")
    fileobj.seek(info.header_offset)
    header = fileobj.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise ContainerError(f"bad local header for {info.filename!r}")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    local_name = fileobj.read(name_len)
    if local_name.decode(
        "utf-8", "replace"
    ) != info.filename and local_name != info.filename.encode("cp437", "replace"):
        notes.append(f"local header name {local_name!r} differs from central directory")
    fileobj.seek(info.header_offset + 30 + name_len + extra_len)
    raw = fileobj.read(info.compress_size)
    if len(raw) < info.compress_size:
        notes.append("member data truncated")
    return raw, notes


def _decode(method: int, raw: Any, budget: Budget, loc: str) -> tuple[bytes, list[Finding]]:
    """Decompress one member; per-member failures become findings, budget exhaustion raises."""
    try:
        return decompress_member(method, raw, budget), []
    except LimitExceeded as exc:
        if exc.whole_file:
            raise
        return b"", [bomb_finding(loc, exc)]
    except UnsupportedMethod as exc:
        msg = f"cannot scan member: {exc}"
        return b"", [Finding("zip.unsupported-method", Severity.MEDIUM, msg, loc)]
    except ContainerError as exc:
        if isinstance(exc, CorruptStream) and exc.partial:  # scan what was decodable
            return exc.partial, [exc.finding(loc)]
        msg = f"cannot decompress member: {exc}"
        return b"", [Finding("zip.unscannable-member", Severity.MEDIUM, msg, loc)]


def _member(fileobj: IO[bytes], info: zipfile.ZipInfo, loc: str, budget: Budget) -> Member:
    try:
        raw, notes = _payload(fileobj, info)
    except (ContainerError, *_PARSE_ERRORS) as exc:
        unreadable = Finding("zip.unreadable-member", Severity.MEDIUM, str(exc), loc)
        return Member(info.filename, b"", [unreadable])
    findings = [Finding("zip.header-mismatch", Severity.LOW, n, loc) for n in notes]
    if info.flag_bits & 0x1:
        findings.append(
            Finding(
                "zip.flag-trick",
                Severity.LOW,
                "member has the 'encrypted' flag set; scanned as plaintext "
                "(scanners that honour the flag skip it)",
                loc,
            )
        )
    data, more = _decode(info.compress_type, raw, budget, loc)
    findings += more
    if not more and zlib.crc32(data) != info.CRC:
        findings.append(
            Finding(
                "zip.crc-mismatch",
                Severity.LOW,
                "CRC mismatch (Python's zipfile refuses this member, torch.load does not)",
                loc,
            )
        )
    return Member(info.filename, data, findings)


def iter_zip(
    fileobj: IO[bytes],
    location: str,
    budget: Budget,
    skip: Callable[[str], bool] | None = None,
) -> Iterator[Member]:
    """Yield the members of a zip archive, forgiving CRC, flag and name tricks.

    ``skip(name) -> bool`` marks members that the loader never interprets (torch storages).
    Raises :class:`LimitExceeded` only when the whole file's budget is spent.
    """
    try:
        infos = zipfile.ZipFile(fileobj).infolist()
    except _PARSE_ERRORS as exc:
        yield from _iter_local_headers(fileobj, location, budget, str(exc))
        return
    for info in infos:
        if not info.filename or info.filename.endswith("/"):
            continue
        budget.member()
        if skip is not None and skip(info.filename):
            continue
        loc = f"{location}!{info.filename}"
        try:
            member = _member(fileobj, info, loc, budget)
        except LimitExceeded as exc:
            exc.location = exc.location or loc
            raise
        except Exception as exc:  # a bug on one member must not hide the next ones
            log.debug("internal error reading %s", loc, exc_info=True)  # the report carries it
            member = Member(info.filename, b"", [internal_error(loc, exc)])
        yield member


def _iter_local_headers(
    fileobj: IO[bytes], location: str, budget: Budget, why: str
) -> Iterator[Member]:
    """Fallback for archives without a usable central directory: walk local headers."""
    fileobj.seek(0)
    data = fileobj.read(budget.limits.max_member_bytes)
    pos = data.find(b"PK\x03\x04")
    if pos < 0:
        raise ContainerError(f"not a readable zip: {why}")
    while 0 <= pos and pos + 30 <= len(data):
        flags, method = struct.unpack("<HH", data[pos + 6 : pos + 10])
        (csize,) = struct.unpack("<I", data[pos + 18 : pos + 22])
        name_len, extra_len = struct.unpack("<HH", data[pos + 26 : pos + 30])
        name = data[pos + 30 : pos + 30 + name_len].decode("utf-8", "replace")
        start = pos + 30 + name_len + extra_len
        nxt = data.find(b"PK\x03\x04", start + 1)
        end = start + csize if csize and not flags & 0x8 else (nxt if nxt > 0 else len(data))
        budget.member()
        loc = f"{location}!{name}"
        findings = [
            Finding(
                "zip.no-central-directory",
                Severity.LOW,
                f"central directory unusable ({why}); member found by local header",
                loc,
            )
        ]
        content, more = _decode(method, data[start:end], budget, loc)
        if method != 0 and not content and not more:
            msg = "member decompresses to nothing"
            more = [Finding("zip.unscannable-member", Severity.MEDIUM, msg, loc)]
        yield Member(name, content, findings + more)
        pos = data.find(b"PK\x03\x04", max(end, start + 1))

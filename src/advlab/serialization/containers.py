"""Bounded, forgiving readers for archives and compressed streams.

Scanners have been bypassed by containers that the *loader* accepts but the *scanner's*
library rejects: zip members with a wrong CRC or the "encrypted" flag bit set, local headers
that disagree with the central directory, 7z packaging, nested archives (JFrog / Sonatype
advisories against picklescan, https://github.com/mmaitre314/picklescan/security; modelscan ignores nested
zips). The readers here therefore (a) locate members through the central directory like
``torch``'s miniz reader but decompress the raw data themselves, never checking CRCs or flag
bits (mismatches are reported, not fatal), and (b) enforce limits on sizes, ratios, member
counts and nesting against decompression bombs. Nothing is ever written to disk.
"""

from __future__ import annotations

import bz2
import io
import logging
import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from advlab.serialization.findings import Finding, Severity

log = logging.getLogger(__name__)

CHUNK = 1 << 20


@dataclass
class Limits:
    """Resource limits for one top-level file (all nested levels together)."""

    max_depth: int = 8
    max_member_bytes: int = 2 << 30
    max_total_bytes: int = 8 << 30
    max_members: int = 100_000
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 64 << 20
    time_budget_s: float = 60.0


class LimitExceeded(Exception):
    """A resource limit tripped; the remaining content is not scanned."""


class ContainerError(Exception):
    """The container is malformed beyond recovery."""


@dataclass
class Budget:
    """Mutable accounting of decompressed bytes across one top-level scan."""

    limits: Limits
    total: int = 0
    members: int = 0

    def take(self, n: int, compressed: int | None = None) -> None:
        self.total += n
        if n > self.limits.max_member_bytes:
            raise LimitExceeded(f"member expands beyond {self.limits.max_member_bytes} bytes")
        if self.total > self.limits.max_total_bytes:
            raise LimitExceeded(f"total expansion beyond {self.limits.max_total_bytes} bytes")
        if (
            compressed is not None
            and n > self.limits.ratio_floor_bytes
            and n > self.limits.max_ratio * max(compressed, 1)
        ):
            raise LimitExceeded(f"compression ratio above {self.limits.max_ratio:g}")

    def member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise LimitExceeded(f"more than {self.limits.max_members} archive members")


@dataclass
class Member:
    name: str
    data: bytes
    findings: list[Finding] = field(default_factory=list)


def _check_growth(n: int, cap: int, compressed: int | None, limits: Limits) -> None:
    if n > cap:
        raise LimitExceeded(f"member expands beyond {cap} bytes")
    if compressed and n > limits.ratio_floor_bytes and n > limits.max_ratio * compressed:
        raise LimitExceeded(f"compression ratio above {limits.max_ratio:g}")


def _read_capped(stream: IO[bytes], budget: Budget, compressed: int | None) -> bytes:
    cap = budget.limits.max_member_bytes
    parts: list[bytes] = []
    n = 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        parts.append(chunk)
        n += len(chunk)
        _check_growth(n, cap, compressed, budget.limits)
    budget.take(n, compressed)
    return b"".join(parts)


def decompress_stream(kind: str, fileobj: IO[bytes], size: int, budget: Budget) -> bytes:
    """Decompress a single-stream container (gzip, bzip2, xz, lzma, zlib, lz4)."""
    try:
        if kind == "gzip":
            import gzip

            with gzip.GzipFile(fileobj=fileobj, mode="rb") as g:
                return _read_capped(g, budget, size)  # type: ignore[arg-type]
        if kind == "bzip2":
            with bz2.BZ2File(fileobj, "rb") as b:
                return _read_capped(b, budget, size)
        if kind in ("xz", "lzma"):
            with lzma.LZMAFile(fileobj, "rb") as x:
                return _read_capped(x, budget, size)
        if kind == "zlib":
            return _inflate(fileobj, budget, size, wbits=15)
        if kind == "lz4":
            try:
                import lz4.frame as lz4f  # type: ignore[import-not-found]
            except ImportError as exc:
                raise ContainerError("lz4 stream but the 'lz4' package is not installed") from exc
            with lz4f.open(fileobj, "rb") as z:
                return _read_capped(z, budget, size)
    except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as exc:
        raise ContainerError(f"{kind} stream is corrupt: {exc}") from exc
    raise ContainerError(f"unknown stream kind {kind}")


def _inflate(fileobj: IO[bytes], budget: Budget, size: int, wbits: int) -> bytes:
    d = zlib.decompressobj(wbits)
    cap = budget.limits.max_member_bytes
    parts: list[bytes] = []
    n = 0
    while True:
        src = fileobj.read(CHUNK)
        if not src:
            break
        while src:
            out = d.decompress(src, CHUNK)
            parts.append(out)
            n += len(out)
            _check_growth(n, cap, size, budget.limits)
            src = d.unconsumed_tail
        if d.eof:
            break
    parts.append(d.flush())
    budget.take(n, size)
    return b"".join(parts)


def _inflate_bytes(raw: bytes, budget: Budget) -> bytes:
    return _inflate(io.BytesIO(raw), budget, len(raw), wbits=-15)


# ------------------------------------------------------------------------- zip
def _zip_payload(fileobj: IO[bytes], info: zipfile.ZipInfo) -> tuple[bytes, list[str]]:
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


def _zip_decompress(
    fileobj: IO[bytes], zf: zipfile.ZipFile, info: zipfile.ZipInfo, raw: bytes, budget: Budget
) -> bytes:
    method = info.compress_type
    if method == zipfile.ZIP_STORED:
        budget.take(len(raw))
        return raw
    if method == zipfile.ZIP_DEFLATED:
        try:
            return _inflate_bytes(raw, budget)
        except zlib.error as exc:
            raise ContainerError(f"deflate data corrupt: {exc}") from exc
    if method == zipfile.ZIP_BZIP2:
        return decompress_stream("bzip2", io.BytesIO(raw), len(raw), budget)
    if method == zipfile.ZIP_LZMA:
        patched = zipfile.ZipInfo(info.filename)
        patched.__dict__.update(info.__dict__)
        patched.flag_bits &= ~0x1
        with zf.open(patched) as stream:
            stream._expected_crc = None  # type: ignore[attr-defined]
            return _read_capped(stream, budget, len(raw))
    raise ContainerError(f"unsupported zip compression method {method}")


def iter_zip(
    fileobj: IO[bytes], location: str, budget: Budget, skip: Any = None
) -> Iterator[Member]:
    """Yield the members of a zip archive, forgiving CRC, flag and name tricks.

    ``skip(name) -> bool`` marks members that the loader never interprets (torch storages).
    """
    try:
        zf = zipfile.ZipFile(fileobj)
        infos = zf.infolist()
    except (
        zipfile.BadZipFile,
        OSError,
        ValueError,
        EOFError,
        NotImplementedError,
        struct.error,
        KeyError,
        IndexError,
    ) as exc:
        yield from _iter_zip_local_headers(fileobj, location, budget, str(exc))
        return
    for info in infos:
        if not info.filename or info.filename.endswith("/"):
            continue
        budget.member()
        if skip is not None and skip(info.filename):
            continue
        findings: list[Finding] = []
        loc = f"{location}!{info.filename}"
        try:
            raw, notes = _zip_payload(fileobj, info)
        except (ContainerError, ValueError, OSError, OverflowError) as exc:
            findings.append(Finding("zip.unreadable-member", Severity.MEDIUM, str(exc), loc))
            yield Member(info.filename, b"", findings)
            continue
        for note in notes:
            findings.append(Finding("zip.header-mismatch", Severity.LOW, note, loc))
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
        try:
            data = _zip_decompress(fileobj, zf, info, raw, budget)
        except (
            ContainerError,
            zipfile.BadZipFile,
            NotImplementedError,
            lzma.LZMAError,
            OSError,
            EOFError,
            ValueError,
        ) as exc:
            findings.append(
                Finding(
                    "zip.unscannable-member",
                    Severity.MEDIUM,
                    f"cannot decompress member: {exc}",
                    loc,
                )
            )
            yield Member(info.filename, b"", findings)
            continue
        if zlib.crc32(data) != info.CRC:
            findings.append(
                Finding(
                    "zip.crc-mismatch",
                    Severity.LOW,
                    "CRC mismatch (Python's zipfile refuses this member, torch.load does not)",
                    loc,
                )
            )
        yield Member(info.filename, data, findings)


def _iter_zip_local_headers(
    fileobj: IO[bytes], location: str, budget: Budget, why: str
) -> Iterator[Member]:
    """Fallback for archives without a usable central directory: walk local headers."""
    fileobj.seek(0)
    data = fileobj.read(budget.limits.max_member_bytes)
    pos = data.find(b"PK\x03\x04")
    if pos < 0:
        raise ContainerError(f"not a readable zip: {why}")
    found = False
    while 0 <= pos and pos + 30 <= len(data):
        (flags, method, csize, name_len, extra_len) = (
            struct.unpack("<H", data[pos + 6 : pos + 8])[0],
            struct.unpack("<H", data[pos + 8 : pos + 10])[0],
            struct.unpack("<I", data[pos + 18 : pos + 22])[0],
            *struct.unpack("<HH", data[pos + 26 : pos + 30]),
        )
        name = data[pos + 30 : pos + 30 + name_len].decode("utf-8", "replace")
        start = pos + 30 + name_len + extra_len
        nxt = data.find(b"PK\x03\x04", start + 1)
        end = start + csize if csize and not flags & 0x8 else (nxt if nxt > 0 else len(data))
        raw = data[start:end]
        budget.member()
        found = True
        loc = f"{location}!{name}"
        findings = [
            Finding(
                "zip.no-central-directory",
                Severity.LOW,
                f"central directory unusable ({why}); member found by local header",
                loc,
            )
        ]
        try:
            content = raw if method == 0 else _inflate_bytes(raw, budget) if method == 8 else b""
        except zlib.error:
            content = b""
        if method not in (0, 8) or (method == 8 and not content):
            findings.append(
                Finding(
                    "zip.unscannable-member",
                    Severity.MEDIUM,
                    f"cannot decompress member (method {method})",
                    loc,
                )
            )
        yield Member(name, content, findings)
        pos = data.find(b"PK\x03\x04", max(end, start + 1))
    if not found:
        raise ContainerError(f"not a readable zip: {why}")


# ------------------------------------------------------------------------- tar
def iter_tar(fileobj: IO[bytes], location: str, budget: Budget) -> Iterator[Member]:
    try:
        tf = tarfile.open(fileobj=fileobj, mode="r:")
    except (tarfile.TarError, OSError, ValueError) as exc:
        raise ContainerError(f"not a readable tar: {exc}") from exc
    with tf:
        try:
            for ti in tf:
                budget.member()
                if not ti.isfile():
                    continue
                if ti.size > budget.limits.max_member_bytes:
                    raise LimitExceeded(f"tar member {ti.name!r} is {ti.size} bytes")
                stream = tf.extractfile(ti)
                if stream is None:
                    continue
                data = stream.read()
                budget.take(len(data))
                yield Member(ti.name, data)
        except (tarfile.TarError, OSError, ValueError, EOFError) as exc:
            raise ContainerError(f"tar archive corrupt: {exc}") from exc


# ------------------------------------------------------------------------- 7z
def iter_7z(fileobj: IO[bytes], location: str, budget: Budget) -> Iterator[Member]:
    try:
        import py7zr
        from py7zr.io import BytesIOFactory
    except ImportError as exc:
        raise ContainerError("7z archive but 'py7zr' is not installed") from exc
    try:
        with py7zr.SevenZipFile(fileobj, mode="r") as sz:
            if sz.needs_password():
                raise ContainerError("encrypted 7z archive: content cannot be scanned")
            infos = [i for i in sz.list() if not i.is_directory]
            for i in infos:
                budget.member()
                size = int(i.uncompressed or 0)
                if size > budget.limits.max_member_bytes:
                    raise LimitExceeded(f"7z member {i.filename!r} is {size} bytes")
                budget.take(size)
            factory = BytesIOFactory(budget.limits.max_member_bytes)
            sz.extractall(factory=factory)
            for name, product in factory.products.items():
                product.seek(0)
                yield Member(name, product.read())
    except (LimitExceeded, ContainerError):
        raise
    except Exception as exc:  # py7zr raises many unrelated exception types
        raise ContainerError(f"7z archive corrupt: {type(exc).__name__}: {exc}") from exc

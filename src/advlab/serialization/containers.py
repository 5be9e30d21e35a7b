"""Bounded, forgiving readers for archives and compressed streams.

Scanners have been bypassed by containers that the *loader* accepts but the *scanner's*
library rejects: zip members with a wrong CRC or the "encrypted" flag bit set, local headers
that disagree with the central directory, 7z packaging, nested archives (JFrog / Sonatype
advisories against picklescan, https://github.com/mmaitre314/picklescan/security; modelscan ignores nested
zips). The readers here (and in :mod:`advlab.serialization.zips`) therefore decompress raw
member data themselves, never checking CRCs or flag bits (mismatches are reported, not fatal).

Decompression bombs are stopped *inside* decompression: every decoder runs incrementally,
producing at most :data:`CHUNK` bytes per step, and every step is charged to one
:class:`Budget` per top-level file (all nesting levels together), which checks the byte limits,
the compression ratio and the deadline. Nothing is ever written to disk.
"""

from __future__ import annotations

import bz2
import functools
import lzma
import struct
import tarfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from advlab.serialization.findings import Finding, Severity

CHUNK = 1 << 20
#: input bytes per decoder call in stream readers (see :func:`_feed`)
FEED = 16 << 10


@dataclass
class Limits:
    """Resource limits for one top-level file (all nested levels together).

    Decompressed output (every level, stored members included) counts against
    ``max_total_bytes`` and against ``max_ratio`` times the size of the top-level file, with
    ``ratio_floor_bytes`` always allowed: a 70 KB file may expand to 64 MiB in total, a 1 GiB
    joblib file to 8 GiB. One member may not expand beyond ``max_member_bytes``, nor beyond
    ``max_ratio`` times its compressed size once it is above ``ratio_floor_bytes``.
    ``time_budget_s`` bounds the whole scan of the file, checked after every chunk.
    """

    max_depth: int = 8
    max_member_bytes: int = 2 << 30
    max_total_bytes: int = 8 << 30
    max_members: int = 100_000
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 64 << 20
    time_budget_s: float = 60.0


class LimitExceeded(Exception):
    """A resource limit tripped; the remaining content is not scanned."""

    rule = "container.limit"
    location: str | None = None  # the member being decompressed, set by the reader
    whole_file = True  # False: only this member is abandoned, its siblings are still scanned


class MemberTooLarge(LimitExceeded):
    """One member above ``max_member_bytes`` (stored or not); other members are still scanned."""

    whole_file = False


class DecompressionBomb(LimitExceeded):
    """Output beyond the byte or ratio limits: the rest of the file is not decompressed."""

    rule = "container.decompression-bomb"


class MemberBomb(DecompressionBomb):
    """One member beyond its own ratio limit; other members are still scanned."""

    whole_file = False


class TimeBudgetExceeded(LimitExceeded):
    """The file's time budget ran out."""

    rule = "scan.budget"


class ContainerError(Exception):
    """The container is malformed beyond recovery."""


class CorruptStream(ContainerError):
    """Compressed data that is truncated or corrupt after ``partial`` was decoded.

    A reader that meets a bad tail keeps what it decoded: the caller scans ``partial`` and
    reports the corruption itself (:meth:`finding`), so a payload in the decodable part is never
    hidden behind an error.
    """

    def __init__(self, message: str, partial: bytes) -> None:
        super().__init__(message)
        self.partial = partial

    def finding(self, location: str) -> Finding:
        """HIGH: the bytes after the decoded part are unanalysed (and loaders may differ)."""
        return Finding(
            "container.corrupt-stream",
            Severity.HIGH,
            f"{self} after {len(self.partial)} decoded bytes; the decoded part was scanned, "
            "the rest is unanalysed",
            location,
        )


@dataclass
class Budget:
    """Accounting of decompressed bytes, members and time across one top-level scan."""

    limits: Limits
    source_bytes: int = 0
    total: int = 0
    members: int = 0
    deadline: float = field(default=0.0)

    def __post_init__(self) -> None:
        if not self.deadline:
            self.deadline = time.monotonic() + self.limits.time_budget_s

    @property
    def total_cap(self) -> int:
        """Decompressed bytes allowed for the whole file (see :class:`Limits`)."""
        by_ratio = int(self.limits.max_ratio * self.source_bytes)
        return min(self.limits.max_total_bytes, max(self.limits.ratio_floor_bytes, by_ratio))

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TimeBudgetExceeded(f"time budget of {self.limits.time_budget_s:g} s exhausted")

    def grow(self, n: int, member_total: int, compressed: int | None) -> None:
        """Charge ``n`` new output bytes of a member that has produced ``member_total``."""
        self.total += n
        lim = self.limits
        if member_total > lim.max_member_bytes:
            raise MemberTooLarge(f"member larger than {lim.max_member_bytes} bytes")
        if (
            compressed is not None
            and member_total > lim.ratio_floor_bytes
            and member_total > lim.max_ratio * max(compressed, 1)
        ):
            raise MemberBomb(
                f"member expands beyond {member_total} bytes from {compressed} "
                f"(ratio above {lim.max_ratio:g})"
            )
        if self.total > lim.max_total_bytes:
            raise LimitExceeded(f"file holds more than {lim.max_total_bytes} bytes in total")
        if self.total > self.total_cap:
            raise DecompressionBomb(
                f"file expands beyond {self.total_cap} bytes in total "
                f"({self.source_bytes} bytes on disk; limit max({lim.ratio_floor_bytes}, "
                f"{lim.max_ratio:g} x size), at most {lim.max_total_bytes})"
            )
        self.check_time()

    def member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise LimitExceeded(f"more than {self.limits.max_members} archive members")


@dataclass
class Member:
    name: str
    data: bytes
    findings: list[Finding] = field(default_factory=list)


class _Sink:
    """Collects one member's output, charging every chunk to the budget."""

    def __init__(self, budget: Budget, compressed: int | None) -> None:
        self.budget = budget
        self.compressed = compressed
        self.parts: list[bytes] = []
        self.n = 0

    def add(self, out: bytes) -> None:
        if out:
            self.parts.append(out)
            self.n += len(out)
        self.budget.grow(len(out), self.n, self.compressed)

    def value(self) -> bytes:
        return b"".join(self.parts)


class _Decoder(Protocol):
    @property
    def eof(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...


def _feed(dec: Any, data: bytes, sink: _Sink) -> bytes:
    """Feed ``data`` to a zlib, bz2 or lzma decoder, CHUNK output bytes per step.

    Input goes in :data:`FEED`-byte pieces: a decoder error discards the output of the call
    that raised it, so small pieces keep everything decoded before the damage but the last
    piece's worth. Returns the input left over after the end of the stream (``b""`` while it
    wants more).
    """
    for start in range(0, len(data), FEED):
        piece = data[start : start + FEED]
        if hasattr(dec, "unconsumed_tail"):  # zlib: unconsumed input is handed back
            while piece and not dec.eof:
                sink.add(dec.decompress(piece, CHUNK))
                piece = dec.unconsumed_tail
        else:  # bz2 / lzma buffer the input and want b"" until they need more
            sink.add(dec.decompress(piece, CHUNK))
            while not dec.eof and not dec.needs_input:
                sink.add(dec.decompress(b"", CHUNK))
        if dec.eof:
            return bytes(dec.unused_data) + data[start + FEED :]
    return b""


def _decode_all(
    new: Callable[[], Any], read: Callable[[], bytes], sink: _Sink, kind: str, *, multi: bool
) -> bytes:
    """Decode ``read()`` blocks with decoders from ``new``; keep the output of a bad tail.

    ``multi``: concatenated streams are decoded one after the other (gzip, bzip2 and xz
    readers do so), zero padding between and after them is skipped (xz, tape gzip), and any
    other trailing data is a corrupt tail. Truncation (no end-of-stream marker) and decoder
    errors raise :class:`CorruptStream` carrying everything decoded before.
    """
    dec = new()
    fed = False  # the current decoder has received input
    pending = b""
    try:
        while True:
            block = pending or read()
            if not block:
                break
            if not fed and multi:
                block = block.lstrip(b"\0")
                if not block:
                    pending = b""
                    continue
            fed = True
            pending = _feed(dec, block, sink)
            if dec.eof:
                if hasattr(dec, "flush"):
                    sink.add(dec.flush(CHUNK))
                if not multi:
                    return sink.value()
                dec, fed = new(), False
        if fed and hasattr(dec, "flush") and not dec.eof:
            sink.add(dec.flush(CHUNK))
    except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as exc:
        raise CorruptStream(f"{kind} data corrupt ({exc})", sink.value()) from exc
    if fed and not dec.eof:
        raise CorruptStream(f"{kind} data truncated (no end-of-stream marker)", sink.value())
    return sink.value()


def _blocks(raw: Any) -> Callable[[], bytes]:
    """A ``read()`` over an in-memory buffer, CHUNK bytes at a time."""
    pos = 0

    def read() -> bytes:
        nonlocal pos
        out = bytes(raw[pos : pos + CHUNK])
        pos += len(out)
        return out

    return read


def _run(dec: _Decoder, raw: Any, sink: _Sink) -> bytes:
    """Feed ``raw`` to a bz2/lzma-style decoder, CHUNK output bytes at a time."""
    for start in range(0, len(raw), CHUNK):
        out = dec.decompress(bytes(raw[start : start + CHUNK]), CHUNK)
        sink.add(out)
        while not dec.eof and not getattr(dec, "needs_input", True):
            sink.add(dec.decompress(b"", CHUNK))
        if dec.eof:
            break
    return sink.value()


def inflate(raw: Any, sink: _Sink, wbits: int) -> bytes:
    """zlib/deflate with bounded output per step; a missing final block is a corrupt stream."""
    kind = "deflate" if wbits < 0 else "zlib"
    return _decode_all(lambda: zlib.decompressobj(wbits), _blocks(raw), sink, kind, multi=False)


def _zip_lzma_decoder(raw: Any) -> tuple[Any, int]:
    """Decoder for a zip LZMA member (APPNOTE 5.8.8: version, props size, LZMA1 props)."""
    if len(raw) < 4:
        raise ContainerError("LZMA member header truncated")
    (psize,) = struct.unpack("<H", bytes(raw[2:4]))
    props = bytes(raw[4 : 4 + psize])
    if len(props) != 5 or props[0] >= 9 * 5 * 5:
        raise ContainerError("LZMA member has invalid properties")
    d = props[0]
    lc, lp, pb = d % 9, (d // 9) % 5, d // 45
    (dict_size,) = struct.unpack("<I", props[1:5])
    filt = {"id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": lc, "lp": lp, "pb": pb}
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[filt]), 4 + psize


#: zip compression methods Python's ``zipfile`` reads, and names for the others.
ZIP_METHODS = {0: "stored", 8: "deflate", 12: "bzip2", 14: "lzma"}
ZIP_OTHER_METHODS = {
    1: "shrink",
    6: "implode",
    9: "deflate64",
    10: "PKWARE DCL implode",
    18: "IBM TERSE",
    19: "IBM LZ77",
    93: "zstandard",
    95: "xz",
    96: "jpeg",
    97: "wavpack",
    98: "ppmd",
    99: "AES encryption",
}


class UnsupportedMethod(ContainerError):
    """A zip compression method that neither this scanner nor Python's zipfile reads."""


def decompress_member(method: int, raw: Any, budget: Budget) -> bytes:
    """Decompress one zip member's raw data (stored, deflate, bzip2 or lzma)."""
    sink = _Sink(budget, len(raw))
    try:
        if method == 0:
            sink.add(bytes(raw))
            return sink.value()
        if method == 8:
            return inflate(raw, sink, -15)
        if method == 12:
            return _decode_all(bz2.BZ2Decompressor, _blocks(raw), sink, "bzip2", multi=False)
        if method == 14:  # no end-of-stream check: zip LZMA members may omit the marker
            dec, skip = _zip_lzma_decoder(raw)
            return _run(dec, memoryview(bytes(raw))[skip:], sink)
    except CorruptStream:
        raise
    except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as exc:
        raise CorruptStream(f"{ZIP_METHODS[method]} data corrupt ({exc})", sink.value()) from exc
    name = ZIP_OTHER_METHODS.get(method, "unknown")
    raise UnsupportedMethod(
        f"compression method {method} ({name}) is not supported; supported: "
        + ", ".join(f"{k} ({v})" for k, v in ZIP_METHODS.items())
    )


def _read_stream(stream: IO[bytes], sink: _Sink) -> bytes:
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return sink.value()
        sink.add(chunk)


def decompress_stream(kind: str, fileobj: IO[bytes], size: int, budget: Budget) -> bytes:
    """Decompress a single-file container (gzip, bzip2, xz, lzma, zlib, lz4), chunk by chunk.

    The file readers used here (multi-stream aware) return at most :data:`CHUNK` bytes per read,
    so limits and the deadline are checked every mebibyte of output.
    """
    sink = _Sink(budget, size)
    read = functools.partial(fileobj.read, CHUNK)
    news: dict[str, Callable[[], Any]] = {
        "gzip": lambda: zlib.decompressobj(31),
        "bzip2": bz2.BZ2Decompressor,
        "xz": lzma.LZMADecompressor,
        "lzma": lzma.LZMADecompressor,
    }
    if kind in news:
        return _decode_all(news[kind], read, sink, kind, multi=True)
    try:
        if kind == "zlib":
            return _decode_all(lambda: zlib.decompressobj(15), read, sink, kind, multi=False)
        if kind == "lz4":
            try:
                import lz4.frame as lz4f  # type: ignore[import-not-found]
            except ImportError as exc:
                raise ContainerError("lz4 stream but the 'lz4' package is not installed") from exc
            with lz4f.open(fileobj, "rb") as z:
                return _read_stream(z, sink)
    except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as exc:
        raise CorruptStream(f"{kind} stream is corrupt ({exc})", sink.value()) from exc
    raise ContainerError(f"unknown stream kind {kind}")


# ------------------------------------------------------------------------- tar
def _tail(fileobj: IO[bytes], ti: tarfile.TarInfo, sink: _Sink) -> bytes:
    """The bytes of a truncated tar member that are present, charged to the budget."""
    if sink.n:
        return sink.value()
    fileobj.seek(ti.offset_data)
    sink.add(fileobj.read(min(ti.size, sink.budget.limits.max_member_bytes)))
    return sink.value()


def iter_tar(fileobj: IO[bytes], location: str, budget: Budget) -> Iterator[Member]:
    """Every member, including those after a corrupt header or an end-of-archive marker.

    ``ignore_zeros`` makes ``tarfile`` skip bad blocks instead of silently stopping there, so
    members appended after garbage or after a first archive (``tar -i`` reads them) are scanned.
    """
    try:
        tf = tarfile.open(fileobj=fileobj, mode="r:", ignore_zeros=True)
    except (tarfile.TarError, OSError, ValueError, EOFError) as exc:
        raise ContainerError(f"not a readable tar: {exc}") from exc
    with tf:
        try:
            for ti in tf:
                budget.member()
                if not ti.isfile():
                    continue
                if ti.size > budget.limits.max_member_bytes:
                    raise MemberTooLarge(f"tar member {ti.name[:200]!r} is {ti.size} bytes")
                stream = tf.extractfile(ti)
                if stream is None:
                    continue
                sink = _Sink(budget, None)
                try:
                    data = _read_stream(stream, sink)
                except (tarfile.TarError, OSError, ValueError, EOFError) as exc:
                    # a member cut short by the end of the archive: scan what is there
                    bad = CorruptStream(f"tar member truncated ({exc})", _tail(fileobj, ti, sink))
                    yield Member(ti.name, bad.partial, [bad.finding(f"{location}!{ti.name}")])
                    return
                yield Member(ti.name, data)
        except (tarfile.TarError, OSError, ValueError, EOFError) as exc:
            raise ContainerError(f"tar archive corrupt: {exc}") from exc


# ------------------------------------------------------------------------- 7z
def iter_7z(fileobj: IO[bytes], location: str, budget: Budget) -> Iterator[Member]:
    try:
        import py7zr
        from py7zr.io import BytesIOFactory, Py7zBytesIO
    except ImportError as exc:
        raise ContainerError("7z archive but 'py7zr' is not installed") from exc

    class _Charged(Py7zBytesIO):  # type: ignore[misc]
        """An in-memory output that charges every write to the scan budget."""

        def __init__(self, filename: str) -> None:
            super().__init__(filename, budget.limits.max_member_bytes)
            self.n = 0

        def write(self, s: bytes | bytearray) -> int:
            self.n += len(s)
            budget.grow(len(s), self.n, None)
            return int(super().write(s))

    class _Factory(BytesIOFactory):  # type: ignore[misc]
        def create(self, filename: str) -> Any:
            product = _Charged(filename)
            self.products[filename] = product
            return product

    try:
        with py7zr.SevenZipFile(fileobj, mode="r") as sz:
            if sz.needs_password():
                raise ContainerError("encrypted 7z archive: content cannot be scanned")
            for i in sz.list():
                if not i.is_directory:
                    budget.member()
            factory = _Factory(budget.limits.max_member_bytes)
            sz.extractall(factory=factory)
            for name, product in factory.products.items():
                product.seek(0)
                yield Member(name, product.read())
    except (LimitExceeded, ContainerError):
        raise
    except Exception as exc:  # py7zr raises many unrelated exception types
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, LimitExceeded):  # raised by _Charged.write inside py7zr
            raise cause from None
        raise ContainerError(f"7z archive corrupt: {type(exc).__name__}: {exc}") from exc

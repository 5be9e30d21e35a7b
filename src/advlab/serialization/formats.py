"""Content-based format detection (magic bytes), never by file extension.

Scanners that dispatch on the extension are bypassed by renaming ``model.pkl`` to
``model.bin`` / ``weights.txt`` (picklescan and modelscan both skip unknown extensions; see
"The Art of Hide and Seek", arXiv 2508.19774, section on loading paths). Loaders such as
``torch.load``, ``joblib.load`` and ``numpy.load(allow_pickle=True)`` ignore the extension, so
the scanner must too.
"""

from __future__ import annotations

import enum
import struct
import zlib


class Kind(str, enum.Enum):
    """Detected content kinds."""

    ZIP = "zip"
    TAR = "tar"
    GZIP = "gzip"
    BZIP2 = "bzip2"
    XZ = "xz"
    LZMA = "lzma"
    ZLIB = "zlib"
    LZ4 = "lz4"
    SEVENZIP = "7z"
    NPY = "npy"
    SAFETENSORS = "safetensors"
    HDF5 = "hdf5"
    PICKLE = "pickle"
    UNKNOWN = "unknown"


ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
SEVENZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
NPY_MAGIC = b"\x93NUMPY"
LZ4_MAGIC = b"\x04\x22\x4d\x18"
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024


def _tar_checksum_ok(head: bytes) -> bool:
    if len(head) < 512:
        return False
    try:
        stored = int(head[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    block = head[:148] + b" " * 8 + head[156:512]
    return stored == sum(block) and any(head[:100])


def is_safetensors(head: bytes, size: int) -> bool:
    """8-byte little-endian header length followed by a JSON object."""
    if len(head) < 10:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    if n < 2 or n > MAX_SAFETENSORS_HEADER or n + 8 > size:
        return False
    return head[8:9] == b"{"


def is_zlib(head: bytes) -> bool:
    """Raw zlib stream (joblib's default compressor)."""
    if len(head) < 2 or head[0] & 0x0F != 8 or head[0] >> 4 > 7:
        return False
    if (head[0] << 8 | head[1]) % 31:
        return False
    try:
        zlib.decompressobj().decompress(head[:64], 1)
    except zlib.error:
        return False
    return True


def sniff(head: bytes, size: int) -> Kind:
    """Return the primary kind of a byte stream from its first bytes (>= 1 KiB recommended).

    Pickle is the fallback: any stream whose first byte is a pickle opcode is handed to the
    pickle analyser, which decides whether it really is one. Zip files are also recognised from
    their end-of-central-directory record by the scanner (polyglots), not here.
    """
    if head.startswith(ZIP_MAGICS):
        return Kind.ZIP
    if head.startswith(SEVENZIP_MAGIC):
        return Kind.SEVENZIP
    if head.startswith(b"\x1f\x8b"):
        return Kind.GZIP
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return Kind.BZIP2
    if head.startswith(b"\xfd7zXZ\x00"):
        return Kind.XZ
    if head.startswith(LZ4_MAGIC):
        return Kind.LZ4
    if head.startswith(NPY_MAGIC):
        return Kind.NPY
    if head.startswith(HDF5_MAGIC):
        return Kind.HDF5
    if len(head) >= 262 and head[257:262] == b"ustar" or _tar_checksum_ok(head):
        return Kind.TAR
    if is_safetensors(head, size):
        return Kind.SAFETENSORS
    if head[:3] == b"\x5d\x00\x00" and len(head) >= 13:
        return Kind.LZMA
    if is_zlib(head):
        return Kind.ZLIB
    if head:
        return Kind.PICKLE
    return Kind.UNKNOWN

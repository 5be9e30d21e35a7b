"""Text normalisation and decoding shared by the leak detectors.

Finding a secret in an answer means seeing through the ways a model (or an attack) may
dress it: case and punctuation (``c-o-c-o``), letters spelled out with spaces, the NATO
alphabet or number words, leetspeak, reversal, ROT13, URL encoding, base64 and hex.
:func:`views` gives every such view of a text; :func:`decoded_tokens` the decodings of the
base64 and hex tokens it contains.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from urllib.parse import unquote_plus

NATO = {
    "alfa": "a", "alpha": "a", "bravo": "b", "charlie": "c", "delta": "d", "echo": "e",
    "foxtrot": "f", "golf": "g", "hotel": "h", "india": "i", "juliett": "j", "juliet": "j",
    "kilo": "k", "lima": "l", "mike": "m", "november": "n", "oscar": "o", "papa": "p",
    "quebec": "q", "romeo": "r", "sierra": "s", "tango": "t", "uniform": "u", "victor": "v",
    "whiskey": "w", "whisky": "w", "xray": "x", "x-ray": "x", "yankee": "y", "zulu": "z",
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "niner": "9",
}  # fmt: skip
"""Spelling words -> the character they spell."""

LEET = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                      "$": "s", "!": "i", "|": "l", "8": "b", "9": "g"})  # fmt: skip
"""Leetspeak characters -> letters (applied to both sides of a comparison)."""

_ALNUM = re.compile(r"[^0-9a-z]+")
_B64 = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
_HEX = re.compile(r"(?:0x)?(?:[0-9a-fA-F]{2}[\s:,-]?){4,}")
_WORD = re.compile(r"[A-Za-z][A-Za-z-]*")
_AS_IN = re.compile(r"\b([a-z0-9])\s+(?:as in|for)\s+[a-z]+", re.IGNORECASE)


def squash(text: str) -> str:
    """Case-folded letters and digits only: ``"C-o c/O"`` -> ``"coco"``."""
    return _ALNUM.sub("", text.casefold())


def unleet(text: str) -> str:
    """Leetspeak read back as letters, then squashed."""
    return squash(text.casefold().translate(LEET))


def spelled(text: str) -> str:
    """Spelling words read as their characters (``"Charlie Oscar"`` -> ``"co"``), other words
    kept; ``"C as in Charlie"`` -> ``"c"``; the result squashed."""
    text = _AS_IN.sub(r"\1", text)
    return squash(_WORD.sub(lambda m: NATO.get(m.group(0).lower(), m.group(0)), text))


def decoded_tokens(text: str) -> list[str]:
    """The printable decodings of the base64 and hex tokens in ``text``."""
    out: list[str] = []
    for m in _B64.finditer(text):
        tok = m.group(0)
        for fn in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                raw = fn(tok + "=" * (-len(tok) % 4))
            except (binascii.Error, ValueError):
                continue
            s = _printable(raw)
            if s:
                out.append(s)
                break
    for m in _HEX.finditer(text):
        digits = re.sub(r"[^0-9a-fA-F]", "", m.group(0).removeprefix("0x"))
        if len(digits) % 2:
            digits = digits[:-1]
        try:
            s = _printable(bytes.fromhex(digits))
        except ValueError:
            continue
        if s:
            out.append(s)
    return out


def _printable(raw: bytes) -> str | None:
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return s if s and all(c.isprintable() or c.isspace() for c in s) else None


def views(text: str) -> dict[str, str]:
    """Squashed views of ``text`` under each way of dressing a secret (view name -> text)."""
    return {
        "normalised": squash(text),
        "spelled": spelled(text),
        "leetspeak": unleet(text),
        "reversed": squash(text)[::-1],
        "rot13": squash(codecs.decode(text, "rot13")),
        "url": squash(unquote_plus(text)),
        "decoded": "|".join(squash(d) for d in decoded_tokens(text)),
    }

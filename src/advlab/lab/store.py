"""The lab server's state in one SQLite file: users, query counts, gradings, solves.

Everything a student earns survives a restart: API keys (stored as SHA-256 digests, never in
clear), the queries each user has spent per challenge (charged through a
:class:`~advlab.meter.QueryMeter` before the model answers), every grading with its reason,
and accepted flags (the scoreboard).
"""

from __future__ import annotations

import hashlib
import re
import secrets as pysecrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from advlab.errors import BudgetExhausted, ConfigError
from advlab.meter import QueryMeter

USER = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, key_hash TEXT UNIQUE NOT NULL,
                                  created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS queries (user TEXT NOT NULL, challenge TEXT NOT NULL,
                                    used INTEGER NOT NULL, PRIMARY KEY (user, challenge));
CREATE TABLE IF NOT EXISTS gradings (id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL,
                                     challenge TEXT NOT NULL, at REAL NOT NULL,
                                     solved INTEGER NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS solves (user TEXT NOT NULL, challenge TEXT NOT NULL,
                                   at REAL NOT NULL, points INTEGER NOT NULL,
                                   PRIMARY KEY (user, challenge));
"""


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Store:
    """Thread-safe access to the lab database at ``path``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across process crashes
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _one(self, sql: str, args: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    # ------------------------------------------------------------------ users
    def register(self, user: str) -> str:
        """Create ``user`` and return its new API key (shown once; only its digest is kept)."""
        if not USER.match(user):
            raise ConfigError("user names are 1-32 letters, digits, '.', '_' or '-'")
        key = "lab-" + pysecrets.token_urlsafe(24)
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO users VALUES (?, ?, ?)", (user, key_digest(key), time.time())
                )
            except sqlite3.IntegrityError:
                raise ConfigError(f"user {user!r} already exists") from None
        return key

    def user_for_key(self, key: str) -> str | None:
        row = self._one("SELECT name FROM users WHERE key_hash = ?", (key_digest(key),))
        return None if row is None else str(row[0])

    def users(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT name FROM users ORDER BY name")]

    # ------------------------------------------------------------------ queries
    def used(self, user: str, challenge: str) -> int:
        row = self._one(
            "SELECT used FROM queries WHERE user = ? AND challenge = ?", (user, challenge)
        )
        return 0 if row is None else int(row[0])

    def charge(self, user: str, challenge: str, n: int, budget: int) -> int:
        """Charge ``n`` queries through a :class:`QueryMeter` holding the user's count; raises
        :class:`BudgetExhausted` (and charges nothing) when the budget would be exceeded.
        Returns the queries used after the charge."""
        with self._lock:
            row = self._db.execute(
                "SELECT used FROM queries WHERE user = ? AND challenge = ?", (user, challenge)
            ).fetchone()
            meter = QueryMeter(query_budget=budget, queries=0 if row is None else int(row[0]))
            meter.charge(n)  # BudgetExhausted before anything is recorded
            self._db.execute(
                "INSERT INTO queries VALUES (?, ?, ?) ON CONFLICT(user, challenge) "
                "DO UPDATE SET used = excluded.used",
                (user, challenge, meter.queries),
            )
            return meter.queries

    def refund(self, user: str, challenge: str, n: int) -> None:
        """Give back ``n`` queries the model did not answer (bad input found after charging)."""
        with self._lock:
            self._db.execute(
                "UPDATE queries SET used = MAX(used - ?, 0) WHERE user = ? AND challenge = ?",
                (n, user, challenge),
            )

    # ------------------------------------------------------------------ grading and flags
    def record_grading(self, user: str, challenge: str, solved: bool, reason: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO gradings (user, challenge, at, solved, reason) VALUES (?, ?, ?, ?, ?)",
                (user, challenge, time.time(), int(solved), reason[:500]),
            )

    def gradings(self, user: str, challenge: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT at, solved, reason FROM gradings WHERE user = ? AND challenge = ? "
                "ORDER BY id",
                (user, challenge),
            ).fetchall()
        return [{"at": r[0], "solved": bool(r[1]), "reason": r[2]} for r in rows]

    def record_solve(self, user: str, challenge: str, points: int) -> bool:
        """Record an accepted flag; False when the user had already solved it."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO solves VALUES (?, ?, ?, ?)",
                (user, challenge, time.time(), points),
            )
            return cur.rowcount == 1

    def solved(self, user: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT challenge FROM solves WHERE user = ? ORDER BY at", (user,)
            ).fetchall()
        return [r[0] for r in rows]

    def scoreboard(self) -> list[dict[str, Any]]:
        """Users by points (ties: who got there first), with their solved challenges."""
        with self._lock:
            rows = self._db.execute(
                "SELECT user, SUM(points), COUNT(*), MAX(at), GROUP_CONCAT(challenge) "
                "FROM solves GROUP BY user ORDER BY SUM(points) DESC, MAX(at) ASC"
            ).fetchall()
        return [
            {
                "user": r[0],
                "points": int(r[1]),
                "solved": int(r[2]),
                "last": r[3],
                "challenges": sorted(str(r[4]).split(",")),
            }
            for r in rows
        ]


__all__ = ["BudgetExhausted", "Store", "key_digest"]

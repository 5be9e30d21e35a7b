"""A JSONL journal of attempts, so an interrupted run resumes without re-sending anything.

Each finished request (a completion or a final error) is appended as one JSON line (an
:class:`~advlab.llm.types.Attempt`) and flushed at once: a process killed at any moment
loses at most the requests in flight, never a finished one. On resume, :meth:`Journal.load`
reads the lines back (a torn last line is skipped) and the harness skips every request
whose id already has a record with the same content key that is final: a completion, or an
error that sending again cannot fix (a rejected request, an answer of the wrong shape or
size). Transient failures (retries ran out on 429 / 5xx / timeouts) and refused
credentials are sent again; ``Harness.arun(..., retry_failed=True)`` resends every error.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from advlab.llm.types import Attempt
from advlab.secrets import redact

log = logging.getLogger(__name__)


class Journal:
    """Append-only JSONL file of :class:`Attempt` records."""

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._lock = threading.Lock()
        self._fh: IO[str] | None = None

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def load(self) -> dict[str, Attempt]:
        """The last record of each request id in the file (empty when there is no file)."""
        records: dict[str, Attempt] = {}
        if not self.path.exists():
            return records
        with self.path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    attempt = Attempt.model_validate(json.loads(line))
                except (ValueError, ValidationError):
                    log.warning("%s line %d is not a complete record; skipped", self.path, n)
                    continue
                records[attempt.request_id] = attempt
        return records

    def append(self, attempt: Attempt) -> None:
        """Write ``attempt`` as one line and flush it to the operating system."""
        line = redact(attempt.model_dump_json()) + "\n"
        with self._lock:
            if self._fh is None:
                self._fh = self.path.open("a", encoding="utf-8")
            self._fh.write(line)
            self._fh.flush()
            if self.fsync:
                os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close the file (appending later reopens it)."""
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

"""Fixtures of the target tests: the fault-injection server on 127.0.0.1 (ephemeral port)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from fault_server import FaultServer  # noqa: E402


@pytest.fixture(scope="module")
def faults() -> Iterator[tuple[str, FaultServer]]:
    """(base URL, the app) of a running fault server; ``POST {url}/<fault>/predict``."""
    pytest.importorskip("uvicorn")
    from advlab.serve import background_server

    app = FaultServer(hang_s=1.5)
    with background_server(app) as url:
        yield url, app


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Secrets registered by a test (short test keys) must not mask other tests' text."""
    yield
    from advlab import secrets

    secrets.clear()

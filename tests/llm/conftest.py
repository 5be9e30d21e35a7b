"""Fixtures of the LLM tests: the serve-llm app and a shape/fault server on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from llm_servers import start_llm_server  # noqa: E402
from shape_server import ShapeServer  # noqa: E402


@pytest.fixture(scope="module")
def shapes() -> Iterator[tuple[str, ShapeServer]]:
    """(base URL, app) of the shape server: ``{url}/<shape>/v1``."""
    pytest.importorskip("uvicorn")
    from advlab.serve import background_server

    app = ShapeServer()
    with background_server(app) as url:
        yield url, app


@pytest.fixture(scope="module")
def llm_server() -> Iterator[tuple[str, Any]]:
    """(v1 URL, stats) of a fault-free serve-llm app."""
    pytest.importorskip("fastapi")
    with start_llm_server() as served:
        yield served


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Secrets registered by a test must not mask other tests' text."""
    yield
    from advlab import secrets

    secrets.clear()

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

from shape_server import ShapeServer  # noqa: E402


@pytest.fixture(scope="module")
def shapes() -> Iterator[tuple[str, ShapeServer]]:
    """(base URL, app) of the shape server: ``{url}/<shape>/v1``."""
    pytest.importorskip("uvicorn")
    from advlab.serve import background_server

    app = ShapeServer()
    with background_server(app) as url:
        yield url, app


def start_llm_server(**kwargs: Any) -> Any:
    """A context manager running ``create_llm_app(**kwargs)``; yields (v1 URL, stats)."""
    from contextlib import contextmanager

    from advlab.llm.server import ServerStats, create_llm_app
    from advlab.serve import background_server

    @contextmanager
    def run() -> Iterator[tuple[str, ServerStats]]:
        stats = ServerStats()
        app = create_llm_app(stats=stats, **kwargs)
        with background_server(app) as url:
            yield f"{url}/v1", stats

    return run()


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

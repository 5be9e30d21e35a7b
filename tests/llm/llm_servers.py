"""Start the serve-llm app on a free 127.0.0.1 port (a helper of the LLM tests)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


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

"""Fixtures of the lab tests: one challenge server on 127.0.0.1 for the whole session."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture(scope="session")
def lab_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab-state")


@pytest.fixture(scope="session")
def lab(lab_state: Path) -> Iterator[Any]:
    pytest.importorskip("fastapi")
    from advlab.lab.server import Lab, Limits

    # many users from one address, queries as fast as the attacks go: limits far above use
    limits = Limits(predict_rate=1e4, predict_burst=10_000, register_rate=1e3, register_burst=1000)
    lab = Lab(lab_state, limits=limits)
    yield lab
    lab.close()


@pytest.fixture(scope="session")
def lab_url(lab: Any) -> Iterator[str]:
    from advlab.lab.server import create_lab_app
    from advlab.serve import background_server

    with background_server(create_lab_app(lab)) as url:
        yield url

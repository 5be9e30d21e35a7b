from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from assess_helpers import base_config  # noqa: E402


@pytest.fixture(scope="session")
def assess_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("advlab-cache")


@pytest.fixture(autouse=True)
def _isolated_cache(assess_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVLAB_CACHE", str(assess_cache))


@pytest.fixture(scope="session")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from assess_helpers import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture()
def make_config(model_file: Path) -> Any:
    def make(**overrides: Any) -> dict[str, Any]:
        return base_config(model_file, **overrides)

    return make

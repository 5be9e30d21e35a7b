from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


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


def base_config(model_file: Path, **overrides: Any) -> dict[str, Any]:
    """A small, fast evasion assessment of the tiny model file."""
    cfg: dict[str, Any] = {
        "name": "tiny",
        "targets": [{"kind": "model", "name": "tiny", "path": str(model_file), "device": "cpu"}],
        "data": {"dataset": "digits", "n": 24, "seed": 0},
        "threat_model": {"perturbation": {"norm": "linf", "eps": [0.05, 0.2]}},
        "attacks": [{"name": "fgsm"}, {"name": "pgd", "params": {"steps": 5}}],
        "gates": ["robust_accuracy(linf, 0.05) >= 0.1"],
        "sanity": {"extra_attacks": False},
        "seed": 0,
    }
    cfg.update(overrides)
    return cfg


@pytest.fixture()
def make_config(model_file: Path) -> Any:
    def make(**overrides: Any) -> dict[str, Any]:
        return base_config(model_file, **overrides)

    return make

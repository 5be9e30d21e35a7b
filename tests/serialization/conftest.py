"""Shared fixtures for the model-file security tests: one generated corpus per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from advlab.serialization.corpus import CorpusItem, build_corpus


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scan_corpus")


@pytest.fixture(scope="session")
def canary(corpus_dir: Path) -> Path:
    """Every payload in the corpus writes/touches this path; it must never appear."""
    return corpus_dir / "CANARY_EXECUTED"


@pytest.fixture(scope="session")
def corpus(corpus_dir: Path, canary: Path) -> list[CorpusItem]:
    items = build_corpus(corpus_dir / "files", canary)
    assert not canary.exists()
    return items

"""Long work reports progress: a bar with an ETA on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging

from advlab import utils


def test_without_a_terminal_progress_is_logged_with_an_eta(monkeypatch, caplog) -> None:
    monkeypatch.setattr(utils, "PROGRESS_LOG_SECONDS", 0.0)
    monkeypatch.setattr(utils, "progress_enabled", lambda: False)
    monkeypatch.setattr(utils, "_QUIET", False)  # an earlier --quiet command may have set it
    logger = logging.getLogger("advlab")
    logger.addHandler(caplog.handler)  # whatever earlier tests did to propagation
    try:
        with caplog.at_level(logging.INFO, logger="advlab"):
            assert list(utils.track(range(4), "training")) == [0, 1, 2, 3]
    finally:
        logger.removeHandler(caplog.handler)
    # a record may reach caplog twice (propagation and the handler added above): count once
    lines = sorted(
        {r.getMessage() for r in caplog.records if r.getMessage().startswith("training")}
    )
    assert len(lines) == 4
    assert lines[1].startswith("training: 2/4 (50%)") and "left" in lines[1]


def test_quiet_means_no_progress_at_all(monkeypatch, caplog) -> None:
    monkeypatch.setattr(utils, "PROGRESS_LOG_SECONDS", 0.0)
    monkeypatch.setattr(utils, "_QUIET", True)
    with caplog.at_level(logging.INFO, logger="advlab"):
        assert list(utils.track(range(3), "quiet work")) == [0, 1, 2]
    assert not [r for r in caplog.records if "quiet work" in r.getMessage()]


def test_lines_are_rate_limited(monkeypatch, caplog) -> None:
    monkeypatch.setattr(utils, "_QUIET", False)
    monkeypatch.setattr(utils, "PROGRESS_LOG_SECONDS", 3600.0)
    monkeypatch.setattr(utils, "progress_enabled", lambda: False)
    with caplog.at_level(logging.INFO, logger="advlab"):
        list(utils.track(range(50), "fast work"))
    assert not [r for r in caplog.records if "fast work" in r.getMessage()]

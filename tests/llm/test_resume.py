"""kill -9 in the middle of a run, then resume: nothing completed is sent again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from llm_servers import start_llm_server

from advlab.llm import Harness, Journal, OpenAIChatTarget, Request, user
from advlab.llm.server import Faults

HERE = Path(__file__).parent
N = 40


def _worker(url: str, journal: Path, out: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(HERE.parents[1] / "src"), os.environ.get("PYTHONPATH", "")]
        ),
    }
    return subprocess.Popen(
        [sys.executable, str(HERE / "resume_worker.py"), url, str(journal), str(out), str(N)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_kill_9_then_resume_resends_no_completed_request(tmp_path):
    pytest.importorskip("fastapi")
    journal, out = tmp_path / "journal.jsonl", tmp_path / "out.json"
    with start_llm_server(faults=Faults(latency_s=0.1)) as (url, stats):
        proc = _worker(url, journal, out)
        deadline = time.monotonic() + 60
        while not journal.exists() or len(journal.read_text().splitlines()) < 10:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(0.3)  # requests in flight at the kill land on the server
        done = {a.messages[0].content for a in Journal(journal).load().values() if a.ok}
        assert 10 <= len(done) < N and not out.exists()
        seen_before = len(stats.received)

        resumed = _worker(url, journal, out)
        assert resumed.wait(timeout=120) == 0, (
            resumed.stderr.read().decode() if resumed.stderr else ""
        )
        resent = stats.received[seen_before:]

        fresh = Harness(OpenAIChatTarget(url, model="level-1"), concurrency=4).run(
            [Request(id=f"r{i}", messages=(user(f"resume question {i}"),)) for i in range(N)]
        )
    assert not done & set(resent)  # 0 completed requests sent again
    assert len(resent) == N - len(done)
    record = json.loads(out.read_text())
    assert record["summary"]["resumed"] == len(done) and record["summary"]["completed"] == N
    assert record["texts"] == [a.text for a in fresh.attempts]

"""A process-executor assessment never outlives its owner and stops promptly on Ctrl-C.

Each test starts ``advlab assess --executor processes`` on the tiny config in its own session
(so the fork server, the workers and the resource tracker are its descendants), slows every
task down through the runner's test seam, and interrupts it once the first task is saved.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from advlab.assess import run_assessment

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="process trees are read from /proc"
)

SRC = Path(__file__).parents[2] / "src"
#: generous bounds (a loaded CI machine), never a claim about speed
START_S, GONE_S, EXIT_S = 180.0, 20.0, 60.0
DELAY_S = "1.0"  # per task: draining the whole queue would take many seconds


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(cfg: dict[str, Any], tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    cfg_path = tmp_path / "assess.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    env = {
        **os.environ,
        "ADVLAB_ASSESS_TASK_DELAY": DELAY_S,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "advlab.assess", "assess", str(cfg_path), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--executor", "processes", "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal job is
        # with the default Ctrl-C handling of a terminal job: a test run started in the
        # background of a script inherits SIGINT ignored, and so would the assessment
        preexec_fn=_default_sigint,
    )
    return proc, out


def _records(out: Path) -> set[str]:
    tasks = out / "tasks"
    return {f.name for f in tasks.glob("*.json")} if tasks.is_dir() else set()


def _wait_first_record(proc: subprocess.Popen[str], out: Path) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline and proc.poll() is None and not _records(out):
        time.sleep(0.05)
    assert proc.poll() is None and _records(out), proc.stderr.read() if proc.stderr else ""


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process from /proc, None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw.rsplit(b")", 1)[1].split()
    return fields[0].decode(), int(fields[1]), int(fields[19])


def _descendants(root: int) -> dict[int, int]:
    """Every process below ``root``: pid -> start time (to tell a reused pid apart)."""
    parents: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        st = _stat(int(entry.name)) if entry.name.isdigit() else None
        if st is not None:
            parents[int(entry.name)] = (st[1], st[2])
    found: dict[int, int] = {}
    frontier = [root]
    while frontier:
        cur = frontier.pop()
        for pid, (ppid, start) in parents.items():
            if ppid == cur and pid not in found:
                found[pid] = start
                frontier.append(pid)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(procs: dict[int, int]) -> list[str]:
    """The processes of ``procs`` still running (zombies are dead, just not yet reaped)."""
    left = []
    for pid, start in procs.items():
        st = _stat(pid)
        if st is not None and st[2] == start and st[0] not in ("Z", "X"):
            left.append(f"{pid} {_cmdline(pid)[:100]}")
    return left


def _wait_gone(procs: dict[int, int]) -> list[str]:
    deadline = time.monotonic() + GONE_S
    while _alive(procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _alive(procs)


def _planned(out: Path) -> int:
    return len(json.loads((out / "run.json").read_text())["tasks"])


def test_kill_9_of_the_owner_leaves_no_process_behind(make_config: Any, tmp_path: Path) -> None:
    proc, out = _start(make_config(), tmp_path)
    try:
        _wait_first_record(proc, out)
        children = _descendants(proc.pid)
        names = " ".join(_cmdline(pid) for pid in children)
        assert "forkserver" in names and "resource_tracker" in names, names
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=EXIT_S)
        assert _wait_gone(children) == []
        # nothing keeps working for the dead run: no task record appears afterwards
        saved = _records(out)
        time.sleep(float(DELAY_S) * 2)
        assert _records(out) == saved
        assert len(saved) < _planned(out)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("to", ["group", "owner"])
def test_ctrl_c_cancels_pending_tasks_and_keeps_finished_ones(
    to: str, make_config: Any, tmp_path: Path
) -> None:
    """``group``: what a terminal sends on Ctrl-C; ``owner``: ``kill -INT`` of the owner alone
    (its workers keep running unless the owner stops them)."""
    proc, out = _start(make_config(), tmp_path)
    try:
        _wait_first_record(proc, out)
        children = _descendants(proc.pid)
        if to == "group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=EXIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, stderr  # docs/assessments.md: an interrupted run exits 2
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error: interrupted:"), stderr
    assert "--resume" in lines[-1] and "Traceback" not in stderr, stderr
    assert _wait_gone(children) == []
    saved = _records(out)
    planned = _planned(out)
    assert 1 <= len(saved) < planned, "pending tasks must be cancelled, not drained"
    time.sleep(float(DELAY_S) * 2)
    assert _records(out) == saved  # no worker survived to run more tasks
    # the finished records are intact: a resumed run reuses every one of them
    mtimes = {n: (out / "tasks" / n).stat().st_mtime_ns for n in saved}
    outcome = run_assessment(tmp_path / "assess.yaml", out, resume=True)
    assert outcome.reused == len(saved)
    assert outcome.ran == planned - len(saved)
    assert all((out / "tasks" / n).stat().st_mtime_ns == m for n, m in mtimes.items())

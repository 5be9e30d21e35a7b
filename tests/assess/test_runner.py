from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from advlab.assess import RunDirError, exit_code, load_results, run_assessment
from advlab.assess.cli import main as cli_main
from advlab.assess.metrics import point_vectors, robust_accuracy
from advlab.errors import ConfigError

HERE = Path(__file__).parent
SRC = HERE.parents[1] / "src"


def _numbers(results: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for r in results["records"]:
        if r["status"] != "ok":
            out[r["key"]] = r["status"]
            continue
        if r["task"]["role"] == "probe":
            out[r["key"]] = r["probe"]
            continue
        v = point_vectors(r)
        assert v is not None
        out[r["key"]] = (robust_accuracy(r), v[1].tolist(), r["result"]["queries"])
    return out


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory, model_file: Path) -> Path:
    from assess_helpers import base_config

    out = tmp_path_factory.mktemp("ref") / "run"
    run_assessment(base_config(model_file), out)
    return out


def test_run_writes_run_dir_and_gates(reference_run: Path) -> None:
    res = load_results(reference_run)
    assert res["schema"] == "advlab.assessment-results" and res["schema_version"] == 3
    assert res["seed"] == 0 and res["environment"]["torch"] and res["config"]["name"] == "tiny"
    # 2 attacks x 2 eps + a probe
    assert res["counts"]["ok"] == 5 and res["counts"]["planned"] == 5
    for name in ("report.html", "report.md", "junit.xml", "report.sarif", "results.json"):
        assert (reference_run / name).is_file()
    assert len(list((reference_run / "tasks").glob("*.json"))) == 5
    # robust accuracy is the per-point worst case over fgsm and pgd
    g = res["gates"][0]
    recs = [r for r in res["records"] if r["task"]["eps"] == 0.05]
    broken = np.zeros(24, dtype=bool)
    for r in recs:
        cc, sc = point_vectors(r)  # type: ignore[misc]
        broken |= sc
    assert g["value"] == pytest.approx(float((cc & ~broken).mean()))
    assert exit_code(res) == (0 if g["passed"] else 1)


def test_gate_exit_codes_and_soft_fail(make_config: Any, tmp_path: Path) -> None:
    cfg = make_config(
        gates=["robust_accuracy(linf, 0.2) >= 0.99", "clean_accuracy >= 0.5"], attacks=["fgsm"]
    )
    res = run_assessment(cfg, tmp_path / "r").results
    assert [g["passed"] for g in res["gates"]] == [False, True]
    assert exit_code(res) == 1 and exit_code(res, soft_fail=True) == 0


def test_same_config_and_seed_same_numbers(
    reference_run: Path, make_config: Any, tmp_path: Path
) -> None:
    again = run_assessment(make_config(), tmp_path / "again").results
    assert _numbers(again) == _numbers(load_results(reference_run))


def test_serial_and_process_executors_agree(
    reference_run: Path, make_config: Any, tmp_path: Path
) -> None:
    res = run_assessment(make_config(), tmp_path / "p", executor="processes", workers=2).results
    assert _numbers(res) == _numbers(load_results(reference_run))


@pytest.mark.slow
def test_serial_and_ray_executors_agree(
    reference_run: Path, make_config: Any, tmp_path: Path
) -> None:
    """A local Ray gives the serial executor's numbers, and writes every task's record."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    cfg = make_config()
    cfg["executor"] = {"name": "ray", "workers": 2}
    try:
        res = run_assessment(cfg, tmp_path / "r").results
    finally:
        ray.shutdown()
    assert _numbers(res) == _numbers(load_results(reference_run))
    assert len(list((tmp_path / "r" / "tasks").glob("*.json"))) == len(res["records"])


def test_existing_run_dir_needs_resume(reference_run: Path, make_config: Any) -> None:
    with pytest.raises(RunDirError, match="--resume"):
        run_assessment(make_config(), reference_run)


def _write_config(tmp_path: Path, cfg: dict[str, Any]) -> Path:
    p = tmp_path / "assess.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def test_resume_after_kill_9_redoes_no_finished_task(
    reference_run: Path, make_config: Any, tmp_path: Path
) -> None:
    cfg_path = _write_config(tmp_path, make_config())
    out = tmp_path / "killed"
    env = {
        **os.environ,
        "ADVLAB_ASSESS_TASK_DELAY": "0.6",
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "advlab.assess", "assess", str(cfg_path), "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        done = list((out / "tasks").glob("*.json")) if (out / "tasks").is_dir() else []
        if len(done) >= 2 or proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    finished = {
        f.name: (f.stat().st_mtime_ns, f.read_bytes()) for f in (out / "tasks").glob("*.json")
    }
    assert 2 <= len(finished) < 5, "the kill should land between tasks"
    assert not (out / "results.json").exists()

    outcome = run_assessment(cfg_path, out, resume=True)
    assert outcome.reused == len(finished)
    assert outcome.ran == outcome.planned - len(finished)
    for name, (mtime, blob) in finished.items():
        f = out / "tasks" / name
        assert f.stat().st_mtime_ns == mtime and f.read_bytes() == blob
    # nothing lost: the resumed run equals an uninterrupted one
    assert _numbers(outcome.results) == _numbers(load_results(reference_run))


def test_corrupt_task_file_is_named_and_rerun(
    reference_run: Path, tmp_path: Path, make_config: Any
) -> None:
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(reference_run, run)
    victim = sorted((run / "tasks").glob("*.json"))[0]
    victim.write_text('{"key": "trunc')
    (run / "results.json").unlink()
    res = load_results(run)  # re-assembled from the records, carries on
    assert any(victim.name in p for p in res["problems"])
    assert res["counts"]["missing"] == 1 and res["counts"]["ok"] == 4
    assert "report.html" and (run / "report.html").is_file()
    outcome = run_assessment(make_config(), run, resume=True)
    assert outcome.ran == 1 and outcome.results["counts"]["ok"] == 5
    assert json.loads(victim.read_text())["status"] == "ok"


def test_budget_too_small_skips_attack_with_reason(make_config: Any, tmp_path: Path) -> None:
    cfg = make_config(
        threat_model={"query_budget": 5, "perturbation": {"norm": "linf", "eps": [0.1]}},
        attacks=["fgsm", {"name": "pgd", "params": {"steps": 10}}],
        gates=[],
    )
    res = run_assessment(cfg, tmp_path / "b").results
    by_attack = {r["task"]["attack"]: r for r in res["records"] if r["task"]["role"] == "suite"}
    assert by_attack["fgsm"]["status"] == "ok"
    assert by_attack["pgd"]["status"] == "skipped"
    assert "needs at least 12 queries per point" in by_attack["pgd"]["reason"]
    assert "needs at least 12" in (tmp_path / "b" / "report.html").read_text()
    assert exit_code(res) == 0

    cfg["attacks"] = [{"name": "pgd", "params": {"steps": 10}}]
    res = run_assessment(cfg, tmp_path / "b2").results
    assert exit_code(res) == 3  # nothing assessed


def test_unknown_attack_lists_valid_ones(make_config: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="valid attacks: .*fgsm.*pgd"):
        run_assessment(make_config(attacks=["fgsmm"]), tmp_path / "u")


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


def _http_target(url: str, timeout: float = 0.5) -> dict[str, Any]:
    return {
        "kind": "http",
        "name": "api",
        "url": url,
        "input_shape": [1, 8, 8],
        "num_classes": 10,
        "returns": "probs",
        "timeout": timeout,
        "retries": 0,
        "api_key_env": None,
    }


def test_http_target_refusing_connections_keeps_partial_results(
    make_config: Any, tmp_path: Path
) -> None:
    cfg = make_config(
        threat_model={"access": "scores", "knowledge": "black-box", "perturbation": {"eps": [0.1]}},
        attacks=[{"name": "objective", "params": {"max_queries": 20}}],
        gates=[],
    )
    cfg["targets"].append(_http_target(f"http://127.0.0.1:{_closed_port()}/predict"))
    out = tmp_path / "h"
    res = run_assessment(cfg, out).results
    errs = [r for r in res["records"] if r["status"] == "error"]
    assert errs and all(r["task"]["target"] == "api" for r in errs)
    assert all("unreachable" in r["reason"] and "connection" in r["reason"].lower() for r in errs)
    ok = [r for r in res["records"] if r["status"] == "ok"]
    assert ok and all(r["task"]["target"] == "tiny" for r in ok)
    assert exit_code(res) == 2
    assert "unreachable" in (out / "report.md").read_text()


def test_http_target_timing_out_is_a_clear_error(make_config: Any, tmp_path: Path) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # accept and never answer
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    try:
        cfg = make_config(
            threat_model={
                "access": "scores",
                "knowledge": "black-box",
                "perturbation": {"eps": [0.1]},
            },
            attacks=[{"name": "objective", "params": {"max_queries": 20}}],
            gates=[],
            targets=[_http_target(f"http://127.0.0.1:{srv.getsockname()[1]}/predict", 0.3)],
        )
        res = run_assessment(cfg, tmp_path / "t").results
    finally:
        stop.set()
        th.join(2)
        for c in conns:
            c.close()
        srv.close()
    assert res["counts"]["error"] == res["counts"]["planned"]
    assert all("timed out" in r["reason"] for r in res["records"])
    assert exit_code(res) == 2


def test_cli_exit_codes(
    reference_run: Path, make_config: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg_path = _write_config(
        tmp_path, make_config(gates=["robust_accuracy(linf, 0.2) >= 0.99"], attacks=["fgsm"])
    )
    assert cli_main(["assess", str(cfg_path), "--out", str(tmp_path / "c")]) == 1
    assert str(tmp_path / "c" / "report.html") in capsys.readouterr().out
    assert cli_main(["assess", str(cfg_path), "--out", str(tmp_path / "c")]) == 4
    assert (
        cli_main(["assess", str(cfg_path), "--out", str(tmp_path / "c"), "--resume", "--soft-fail"])
        == 0
    )
    assert cli_main(["assess", str(tmp_path / "missing.yaml")]) == 2  # as validate says
    assert cli_main(["assess", "--bogus-flag"]) == 4
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets: []\n")
    assert cli_main(["validate", str(bad)]) == 2
    assert "targets" in capsys.readouterr().err
    assert cli_main(["validate", str(cfg_path)]) == 0
    capsys.readouterr()
    assert cli_main(["report", str(reference_run), "-f", "md"]) in (0, 1)
    assert capsys.readouterr().out.startswith("# advlab assessment: tiny")
    assert cli_main(["report", str(reference_run), "-f", "md", "-f", "junit"]) == 4
    rendered = tmp_path / "rendered"
    args = ["report", str(reference_run), "-f", "md", "-f", "junit", "--out-dir", str(rendered)]
    assert cli_main(args) in (0, 1)
    assert (rendered / "report.md").is_file() and (rendered / "junit.xml").is_file()
    # a file of the run directory is never overwritten
    over = ["report", str(reference_run), "-f", "md", "--out", str(reference_run / "report.md")]
    assert cli_main(over) == 2
    assert "never modify" in capsys.readouterr().err
    assert cli_main(["report", str(tmp_path), "-f", "md"]) == 4
    init = tmp_path / "init.yaml"
    assert cli_main(["init", str(init)]) == 0 and cli_main(["validate", str(init)]) == 0
    assert cli_main(["init", str(init)]) == 4
    capsys.readouterr()
    assert cli_main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "advlab assessment configuration"

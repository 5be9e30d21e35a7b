"""LLM harness benchmark: throughput at concurrency 16 vs sequential, cache hits, faults.

Starts ``advlab serve-llm`` in its own process on a free 127.0.0.1 port with a fixed added
latency per answer (the time a real model would take), then with the harness:

1. sends ``--n`` distinct chat requests sequentially (concurrency 1), then again (other
   prompts) at concurrency 16: requests per second of each;
2. repeats the concurrency-16 run with a response cache, twice: the second run is answered
   from the cache; the server's own request counter (``GET /stats``) shows what it received;
3. restarts the server with 10% 429s (Retry-After 0), 5% timeouts (held 3 s, client
   deadline 1 s) and 5% truncated JSON, and runs ``--n`` requests at concurrency 16:
   completed, failed, retries, requests the server received;
4. runs ``--n`` requests at concurrency 4 with a journal in a child process, kills it with
   SIGKILL once a quarter are journaled, resumes in this process and counts what the server
   received on resume (must be ``n`` minus the completed ones) and whether the texts equal
   an uninterrupted run's.

Reproduce (about a minute on 2 cores):
    PYTHONPATH=src .venv/bin/python benchmarks/llm_harness.py --n 200 --latency 0.05
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from advlab.llm import Harness, Journal, OpenAIChatTarget, Request, user


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(*flags: str) -> Iterator[str]:
    """``advlab serve-llm`` in a subprocess; yields its root URL."""
    port = _free_port()
    code = "import sys; from advlab.cli import main; main(sys.argv[1:])"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve-llm", "--port", str(port), *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{root}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("serve-llm did not start")
            time.sleep(0.1)
        yield root
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def requests(n: int, tag: str) -> list[Request]:
    return [
        Request(id=f"{tag}{i}", messages=(user(f"{tag}: tell me about topic {i}"),))
        for i in range(n)
    ]


def server_count(root: str) -> int:
    counts = httpx.get(f"{root}/stats", timeout=5).json()["requests"]
    return int(counts.get("chat", 0))


def server_faults(root: str) -> dict[str, int]:
    return dict(httpx.get(f"{root}/stats", timeout=5).json()["faults"])


def run(root: str, reqs: list[Request], **kwargs: Any) -> dict[str, Any]:
    target = OpenAIChatTarget(f"{root}/v1", model="level-3", deadline=kwargs.pop("deadline", 30.0))
    before = server_count(root)
    result = Harness(target, **kwargs).run(reqs)
    out = result.summary()
    out["server_received"] = server_count(root) - before
    out["server_faults"] = server_faults(root)
    out["requests_per_s"] = round(len(reqs) / result.wall_s, 1)
    return out


def kill_and_resume(root: str, n: int, tmp: str) -> dict[str, Any]:
    """Kill -9 a journaled run a quarter of the way, resume it, count what is re-sent."""
    journal = Path(tmp) / "journal.jsonl"
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", root, str(journal), str(n)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not journal.exists() or len(journal.read_text().splitlines()) < n // 4:
        if proc.poll() is not None:
            raise RuntimeError("the worker ended before it was killed")
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    done = sum(a.ok for a in Journal(journal).load().values())
    out = run(root, requests(n, "resume"), concurrency=4, journal=journal)
    fresh = Harness(OpenAIChatTarget(f"{root}/v1", model="level-3")).run(requests(n, "resume"))
    resumed = Harness(OpenAIChatTarget(f"{root}/v1", model="level-3"), journal=journal)
    again = resumed.run(requests(n, "resume"))
    return {
        "completed_before_kill": done,
        "server_received_on_resume": out["server_received"],
        "completed_requests_resent": out["server_received"] - (n - done),
        "resumed": out["resumed"],
        "identical_to_uninterrupted": [a.text for a in again.attempts]
        == [a.text for a in fresh.attempts],
    }


def worker(root: str, journal: str, n: int) -> None:
    """The child of :func:`kill_and_resume`: a journaled run, killed part way."""
    target = OpenAIChatTarget(f"{root}/v1", model="level-3")
    Harness(target, concurrency=4, journal=journal).run(requests(n, "resume"))


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    report: dict[str, Any] = {"n": args.n, "latency_s": args.latency}
    with served("--latency", str(args.latency)) as root, tempfile.TemporaryDirectory() as tmp:
        report["sequential"] = run(root, requests(args.n, "seq"), concurrency=1)
        report["concurrency_16"] = run(root, requests(args.n, "c16"), concurrency=16)
        cache = Path(tmp) / "cache.sqlite"
        report["cache_cold"] = run(root, requests(args.n, "cache"), concurrency=16, cache=cache)
        report["cache_warm"] = run(root, requests(args.n, "cache"), concurrency=16, cache=cache)
        report["kill_9_resume"] = kill_and_resume(root, args.n, tmp)
    faults = (
        "--rate-limit-rate", "0.10", "--retry-after", "0",
        "--timeout-rate", "0.05", "--hang", "3",
        "--malformed-rate", "0.05", "--seed", "1",
    )  # fmt: skip
    with served("--latency", str(args.latency), *faults) as root:
        report["faults"] = run(
            root, requests(args.n, "f"), concurrency=16, retries=8, backoff=0.05, deadline=1.0
        )
    report["speedup_16_vs_1"] = round(
        report["concurrency_16"]["requests_per_s"] / report["sequential"]["requests_per_s"], 1
    )
    text = json.dumps(report, indent=2)
    sys.stdout.write(text + "\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()

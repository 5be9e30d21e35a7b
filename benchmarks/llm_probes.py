"""LLM probes benchmark: detectors on the labelled set; findings on every vulnerable app.

1. Each detector's precision, recall and specificity on the shipped labelled set (368
   outputs written for this project, ``advlab/llm/detectors/data/labelled.jsonl``).
2. Every probe (default parameters, the offline template attacker for PAIR) against every
   level of the vulnerable chat app (``advlab.llm.apps``, in process) and the tool agent at
   levels 0, 5 and 6: the weaknesses found, missed and false alarms (a category found that
   the level does not have), prompts sent, wall time.
3. ``--http``: the same scan of level 0 and the top level through ``advlab llm scan``
   against ``advlab serve-llm`` on 127.0.0.1 (prompts the server received, wall time).

Reproduce (under a minute on 2 cores):
    PYTHONPATH=src .venv/bin/python benchmarks/llm_probes.py [--http] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from typing import Any

from advlab.llm import LEVELS, TOP_LEVEL, Agent, ChatApp, Harness, demo_workspace
from advlab.llm.detectors.labelled import load_rows, measure
from advlab.llm.probes.base import ScanContext
from advlab.llm.probes.pair import template_attacker_target
from advlab.llm.probes.runner import run_probe
from advlab.llm.scan import DEFAULT_PROBES
from advlab.registry import all_plugins, get_plugin

SECRET = "MELLON42"
WEAKNESS = {
    ("prompt_injection", "goal_hijack"): "ignore",
    ("indirect_injection", "indirect"): "indirect",
    ("prompt_leak", "direct"): "direct",
    ("prompt_leak", "repeat"): "repeat",
    ("prompt_leak", "translate"): "translate",
    ("prompt_leak", "spell"): "spell",
    ("jailbreak", "roleplay"): "roleplay",
    ("exfiltration", "markdown_image"): "exfil",
    ("exfiltration", "tool"): "indirect",
    ("pair", "pair"): "roleplay",
    ("crescendo", "crescendo"): "roleplay",
}


def detectors() -> list[dict[str, Any]]:
    rows = load_rows()
    out = []
    for name, cls in all_plugins("detector")["detector"].items():
        if name == "regex":
            continue  # no labelled rows: checked on its examples by the kit
        det = cls(**cls.fast_params) if name == "llm_judge" else cls()
        m = measure(det, rows)
        out.append({**m.to_dict(), "note": "stand-in rule judge" if name == "llm_judge" else ""})
    return out


def apps() -> list[dict[str, Any]]:
    ctx = ScanContext(secrets=(SECRET,))
    out = []
    targets: list[tuple[str, Any, frozenset[str]]] = [
        (f"level-{n}", ChatApp.level(n, secret=SECRET).target(), LEVELS[n])
        for n in range(TOP_LEVEL + 1)
    ]
    targets += [
        (f"agent-{n}", Agent(ChatApp.level(n, secret=SECRET), demo_workspace()), LEVELS[n])
        for n in (0, 5, TOP_LEVEL)
    ]
    for label, target, weaknesses in targets:
        planted = set(weaknesses)
        found: set[str] = set()
        false_alarms: set[str] = set()
        sent = 0
        t0 = time.perf_counter()
        for name in DEFAULT_PROBES:
            r = run_probe(
                get_plugin("probe", name)(),
                Harness(target),
                ctx,
                attacker=Harness(template_attacker_target()),
            )
            sent += r.counters["sent"]
            for c in r.categories():
                w = WEAKNESS.get((name, c))
                (found if w in planted else false_alarms).add(w or f"{name}:{c}")
        testable = {w for w in planted if w in set(WEAKNESS.values())}
        out.append(
            {
                "app": label,
                "planted": sorted(testable),
                "found": sorted(found),
                "missed": sorted(testable - found),
                "false_alarms": sorted(false_alarms),
                "prompts": sent,
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )
    return out


def http() -> list[dict[str, Any]]:
    from advlab.llm.scan import scan
    from advlab.llm.server import ServerStats, create_llm_app
    from advlab.serve import background_server

    out = []
    stats = ServerStats()
    with background_server(create_llm_app(stats=stats, secret=SECRET)) as url:
        for level in (0, TOP_LEVEL):
            with tempfile.TemporaryDirectory() as d:
                before = stats.total
                t0 = time.perf_counter()
                res = scan(
                    {"base_url": f"{url}/v1", "model": f"level-{level}"}, out=d, secrets=(SECRET,)
                )
                out.append(
                    {
                        "app": f"level-{level} (HTTP)",
                        "findings": sorted(
                            f"{f['probe']}:{c}" for f in res.findings for c in f["categories"]
                        ),
                        "exit_code": res.exit_code,
                        "server_requests": stats.total - before,
                        "seconds": round(time.perf_counter() - t0, 2),
                    }
                )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--http", action="store_true", help="also scan serve-llm over HTTP")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    res: dict[str, Any] = {"detectors": detectors(), "apps": apps()}
    if args.http:
        res["http"] = http()
    print("| detector | n | precision | recall | specificity |\n| --- | --- | --- | --- | --- |")
    for d in res["detectors"]:
        print(
            f"| {d['detector']}{' (' + d['note'] + ')' if d['note'] else ''} | {d['n']} | {d['precision']:.3f} | {d['recall']:.3f} | {d['specificity']:.3f} |"
        )
    print(
        "\n| app | planted | found | missed | false alarms | prompts | seconds |\n| --- | --- | --- | --- | --- | --- | --- |"
    )
    for a in res["apps"]:
        print(
            f"| {a['app']} | {len(a['planted'])} | {len(a['found'])} | {', '.join(a['missed']) or '-'} | {', '.join(a['false_alarms']) or '-'} | {a['prompts']} | {a['seconds']} |"
        )
    for h in res.get("http", []):
        print(
            f"\nHTTP {h['app']}: exit {h['exit_code']}, {len(h['findings'])} findings, {h['server_requests']} requests, {h['seconds']} s"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()

"""LLM guards benchmark: attack success before / after, false refusals, added latency.

For every guard (and two stacks of guards) and every app, :func:`measure_guard` sends the
held-out cases of :mod:`advlab.llm.guards.cases` (22 attacks of three kinds, the 19
plain-text ones again with an adversarial suffix, 56 benign requests) without and with the
guard, and reports per kind how many attacks succeeded, how many benign requests were
refused, and the median added latency per answer. The injection classifier and the
perplexity filter are also scored on the external ``bastioncorpus`` set (181 labelled rows,
MIT; a dev dependency) when it is installed.

Apps: the vulnerable chat apps of :mod:`advlab.llm.apps` (level 0 has every weakness,
level 2 no direct ask / repetition, level 4 spelling, indirect injection and exfiltration,
level 6 none). ``--base-url URL --model NAME --secret S`` measures an OpenAI-compatible
endpoint instead (a real model behind ``advlab serve-llm`` or vLLM / llama.cpp).

Reproduce (about 15 s on 2 cores):
    PYTHONPATH=src .venv/bin/python benchmarks/llm_guards.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from typing import Any

from advlab.llm import ChatApp
from advlab.llm.guards import (
    Guard,
    InjectionClassifier,
    PerplexityFilter,
    SandwichDefense,
    SecretFilter,
    Spotlighting,
    UrlAllowList,
)
from advlab.llm.guards.cases import KINDS, default_cases
from advlab.llm.guards.measure import GuardReport, measure_guard

SECRET = "MELLON42"


def guard_sets() -> dict[str, list[Guard]]:
    """The guards measured, one by one and stacked."""
    return {
        "perplexity_filter": [PerplexityFilter()],
        "injection_classifier": [InjectionClassifier()],
        "spotlighting (delimit)": [Spotlighting(mode="delimit")],
        "spotlighting (datamark)": [Spotlighting(mode="datamark")],
        "spotlighting (encode)": [Spotlighting(mode="encode")],
        "sandwich": [SandwichDefense()],
        "secret_filter": [SecretFilter()],
        "url_allowlist": [UrlAllowList()],
        "rewriters + output filters": [
            Spotlighting(),
            SandwichDefense(),
            SecretFilter(),
            UrlAllowList(),
        ],
        "all (detectors first)": [
            PerplexityFilter(),
            InjectionClassifier(),
            Spotlighting(),
            SandwichDefense(),
            SecretFilter(),
            UrlAllowList(),
        ],
    }


def _counts(reports: list[GuardReport], kind: str | None) -> str:
    n = b = a = 0
    for r in reports:
        kinds = [kind] if kind else list(r.attacks)
        n += sum(r.attacks.get(k, 0) for k in kinds)
        b += sum(r.before.successes.get(k, 0) for k in kinds)
        a += sum(r.after.successes.get(k, 0) for k in kinds)
    return f"{b} → **{a}** / {n}"


def table(rows: list[tuple[str, str, GuardReport]], *, latency: bool = True) -> str:
    """One row per guard: successes per kind summed over the apps, all attacks per app,
    false refusals (the most on any app) and the median added latency (unless not)."""
    apps = list(dict.fromkeys(a for _, a, _ in rows))
    by: dict[str, dict[str, GuardReport]] = defaultdict(dict)
    for name, app, r in rows:
        by[name][app] = r
    head = [*(f"{k} (all apps)" for k in KINDS), *apps, "false refusals (of 56)"]
    head += ["added ms"] if latency else []
    lines = ["| guard | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
    for name, per in by.items():
        reports = list(per.values())
        cells = [_counts(reports, k) for k in KINDS] + [_counts([per[a]], None) for a in apps]
        before = max(r.before.refusals for r in reports)
        after = max(r.after.refusals for r in reports)
        ms = statistics.median(r.added_latency_ms for r in reports)
        cells.append(f"{before} → **{after}**")
        cells += [f"{ms:.2f}"] if latency else []
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def external() -> str:
    """The detectors on bastioncorpus: precision, recall, false-positive rate, by category."""
    try:
        from bastioncorpus import load_corpus
    except ImportError:
        return "bastioncorpus is not installed (pip install bastioncorpus)"
    rows = load_corpus()
    texts = [r.text for r in rows]
    attack = [r.label == "malicious" for r in rows]
    clf, ppl = InjectionClassifier(), PerplexityFilter()
    flags = {
        "injection_classifier": [p >= clf.threshold for p in clf.probabilities(texts)],
        "perplexity_filter": [ppl.score(t) > ppl.threshold for t in texts],
    }
    out = [
        "| detector | precision | recall | false-positive rate | flagged per category |",
        "|---|---:|---:|---:|---|",
    ]
    for name, flagged in flags.items():
        tp = sum(f and a for f, a in zip(flagged, attack, strict=True))
        fp = sum(f and not a for f, a in zip(flagged, attack, strict=True))
        per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r, f in zip(rows, flagged, strict=True):
            per[r.category][0] += int(f)
            per[r.category][1] += 1
        cats = ", ".join(f"{c} {k}/{n}" for c, (k, n) in sorted(per.items()) if n >= 5)
        prec = tp / (tp + fp) if tp + fp else 0.0
        out.append(
            f"| {name} | {prec:.2f} | {tp / sum(attack):.2f} | "
            f"{fp / (len(rows) - sum(attack)):.2f} | {cats} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="0,2,4,6", help="app levels, comma-separated")
    ap.add_argument("--base-url", help="an OpenAI-compatible endpoint instead of the apps")
    ap.add_argument("--model", help="the endpoint's model")
    ap.add_argument("--secret", default=SECRET, help="the secret the endpoint's app holds")
    ap.add_argument("--json", help="also write the reports to this file")
    args = ap.parse_args()

    targets: list[tuple[str, Any]] = []
    if args.base_url:
        from advlab.llm import OpenAIChatTarget

        targets.append((args.model, OpenAIChatTarget(args.base_url, model=args.model)))
    else:
        for n in (int(x) for x in args.levels.split(",")):
            targets.append((f"level-{n}", ChatApp.level(n, secret=args.secret)))
    cases = default_cases()
    rows: list[tuple[str, str, GuardReport]] = []
    start = time.perf_counter()
    for name, guards in guard_sets().items():
        for label, target in targets:
            report = measure_guard(target, guards, cases, secrets=[args.secret])
            rows.append((name, label, report))
    wall = time.perf_counter() - start
    print(table(rows))
    print(f"\n{len(rows)} measurements of {len(cases)} cases each in {wall:.1f} s\n")
    print(external())
    if args.json:
        data = [{"guard": n, "app": a, **r.to_dict()} for n, a, r in rows]
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1)


if __name__ == "__main__":
    main()

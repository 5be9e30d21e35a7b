"""Tiny GPT benchmark: training time, canary exposure against repetitions, GCG against random
search at an equal forward-pass budget, and a universal suffix.

    nice .venv/bin/python benchmarks/tiny_gpt.py [--threads 2] [--steps 600] [--seeds 2]
        [--budget 10000] [--cached] [--train-only] [--tiny] [--json out.json]

Prints Markdown tables (paste into docs/benchmarks/llm.md). Trains without the cache (so the
training time is measured) unless ``--cached``.

GCG and random search run on every (target, seed) pair with the same cap of forward passes;
each run stops at the first suffix under which greedy decoding says the target. The figure
of merit is the forward passes each needs to force a given share of the runs (80 %): the
80th percentile of forward passes to success, failures counting as infinite.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from typing import Any

import numpy as np
import torch

from advlab.lm.exposure import exposure
from advlab.lm.gcg import Prompt, SuffixResult, gcg, random_search
from advlab.lm.model import GPTConfig
from advlab.lm.tokenizer import ByteTokenizer
from advlab.lm.train import TINY, CorpusConfig, LMTrainConfig, tiny_gpt

log = logging.getLogger("bench")

# prompts and targets that occur in the corpus's vocabulary (reachable, not memorised pairs)
STEMS = ["the capital of ", "the city of ", "record: name alice, city ", "bob: do you have "]
TARGETS = "oslo lima riga bern perth seoul hanoi dakar accra cairo quito paris".split()
SHARE = 0.8


def prompt(tok: ByteTokenizer, stem: str, target: str) -> Prompt:
    return Prompt(tok.encode(stem, bos=True), tok.encode(" is "), tok.encode(target))


def to_share(forward: list[float], share: float) -> float:
    """Forward passes after which ``share`` of the runs succeeded (inf if never)."""
    return float(np.quantile(np.array(forward), share, method="inverted_cdf"))


def _row(r: SuffixResult) -> dict[str, Any]:
    return {"success": r.success, "forward": r.forward_passes, "steps": r.steps}


def compare(model: Any, tok: ByteTokenizer, seeds: int, budget: int) -> dict[str, Any]:
    rows = []
    for i, target in enumerate(TARGETS):
        for s in range(seeds):
            p = prompt(tok, STEMS[(i + s) % len(STEMS)], target)
            seed = 100 * s + i
            t = time.perf_counter()
            g = gcg(model, [p], steps=10**6, seed=seed, max_forward=budget)
            tg = time.perf_counter() - t
            t = time.perf_counter()
            r = random_search(model, [p], steps=10**6, seed=seed, max_forward=budget)
            tr = time.perf_counter() - t
            rows.append({"target": target, "stem": STEMS[(i + s) % len(STEMS)], "seed": seed,
                         "gcg": {**_row(g), "seconds": tg}, "random": {**_row(r), "seconds": tr}})  # fmt: skip
    n = len(rows)
    print(
        f"\n{n} runs ({len(TARGETS)} targets x {seeds} seeds), cap {budget} forward passes each.\n"
    )
    print("| search | forced within the cap | forward passes to force 80 % | median to success | seconds (all runs) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- |")
    summary = {}
    for kind in ("gcg", "random"):
        fw = [r[kind]["forward"] if r[kind]["success"] else math.inf for r in rows]
        ok = sum(r[kind]["success"] for r in rows)
        at = to_share(fw, SHARE)
        med = float(np.median([f for f in fw if f < math.inf])) if ok else math.inf
        secs = sum(r[kind]["seconds"] for r in rows)
        summary[kind] = {"forced": ok, "runs": n, "to_80": at, "median": med, "seconds": secs}
        print(f"| {kind} | {ok}/{n} | {at:,.0f} | {med:,.0f} | {secs:.0f} |")
    return {"runs": rows, "summary": summary}


def universal(model: Any, tok: ByteTokenizer, steps: int) -> list[dict[str, Any]]:
    out = []
    print("\n| target | prompts | forced all | steps to success | forward passes | loss: start -> 25 % -> 50 % -> end |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for target in ("oslo", "lima", "paris", "cairo"):
        ps = [prompt(tok, stem, target) for stem in STEMS[:3]]
        r = gcg(model, ps, steps=steps, seed=0)
        curve = r.losses
        marks = [curve[0], curve[len(curve) // 4], curve[len(curve) // 2], curve[-1]]
        out.append({"target": target, "success": r.success, "steps_to_success": r.steps_to_success,
                    "forward": r.forward_passes, "losses": curve, "suffix": tok.decode(r.suffix)})  # fmt: skip
        print(f"| {target} | {len(ps)} | {'yes' if r.success else 'no'} | {r.steps_to_success} | "
              f"{r.forward_passes:,} | {' -> '.join(f'{v:.2f}' for v in marks)} |")  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--budget", type=int, default=10_000)
    ap.add_argument("--universal-steps", type=int, default=300)
    ap.add_argument("--cached", action="store_true")
    ap.add_argument("--train-only", action="store_true", help="training time and exposure only")
    ap.add_argument("--tiny", action="store_true", help="the TINY recipe (2 layers, width 64)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    recipe = TINY if args.tiny else (GPTConfig(), CorpusConfig(), LMTrainConfig(steps=args.steps))
    lm = tiny_gpt(*recipe, device="cpu", cache=args.cached)
    train_s = time.perf_counter() - t0
    tok = lm.tokenizer
    out: dict[str, Any] = {"train_seconds": train_s, "info": lm.info}
    info = lm.info
    print(f"training: {info['seconds']:.1f} s wall, {info.get('cpu_seconds', 0):.1f} s CPU, "
          f"{recipe[2].steps} steps, {args.threads} threads, "
          f"loss {info['loss_first']:.2f} -> {info['loss_last']:.2f}\n")  # fmt: skip

    print("| repeats | exposure (bits) | of log2 R | rank |")
    print("| --- | --- | --- | --- |")
    out["exposure"] = []
    for c in lm.corpus.canaries:
        e = exposure(lm.model, tok, c)
        out["exposure"].append({"repeats": c.repeats, "exposure": e.exposure, "rank": e.rank})
        print(f"| {c.repeats} | {e.exposure:.2f} | {e.exposure / math.log2(c.space):.2f} | {e.rank:.0f} |")  # fmt: skip

    if not args.train_only:
        out["gcg"] = compare(lm.model, tok, args.seeds, args.budget)
        out["universal"] = universal(lm.model, tok, args.universal_steps)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2, default=str)


if __name__ == "__main__":
    main()

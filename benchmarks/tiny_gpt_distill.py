"""Distillation of the served chat model through its API: agreement with the victim on
held-out instructions against the queries spent.

    nice .venv/bin/python benchmarks/tiny_gpt_distill.py [--queries 100 300 1000 3000] [--held-out 200]

The victim is the instruction-tuned tiny GPT (:func:`advlab.lm.chat.tiny_chat_gpt`) behind
``serve-llm``; the attacker knows the kind of instructions (its own seed of the generator)
but not the system prompt, asks each one once over HTTP (``/v1/chat/completions``, greedy),
and trains a student of the same shape on the answers (the first ``q`` answers for a budget
of ``q`` queries). Agreement: the student's reply equals the served victim's, exactly, on
200 held-out instructions.
"""

from __future__ import annotations

import argparse
import logging
import time

import httpx
import torch

from advlab.llm.server import create_llm_app
from advlab.lm.chat import CHAT_MODEL, CHAT_TRAIN, ChatLM, chat_examples, tiny_chat_gpt
from advlab.lm.distill import agreement, distill
from advlab.serve import background_server


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--queries", type=int, nargs="+", default=[100, 300, 1000, 3000])
    ap.add_argument("--held-out", type=int, default=200)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    victim = tiny_chat_gpt(device="cpu")
    served = {"victim": ChatLM(victim.model, victim.tokenizer)}
    with background_server(create_llm_app(lm_models=served)) as base:
        client = httpx.Client(timeout=60)
        cache: dict[str, str] = {}

        def ask(user: str) -> str:
            if user not in cache:
                body = {"model": "victim", "max_tokens": 40,
                        "messages": [{"role": "user", "content": user}]}  # fmt: skip
                r = client.post(f"{base}/v1/chat/completions", json=body)
                cache[user] = str(r.json()["choices"][0]["message"]["content"])
            return cache[user]

        pool = [e.user for e in chat_examples(max(args.queries), seed=7)]
        held = [e.user for e in chat_examples(args.held_out, seed=8)]
        print(f"| queries | distinct prompts | agreement on {args.held_out} held-out | seconds |")
        print("| --- | --- | --- | --- |")
        for q in sorted(args.queries):
            t = time.perf_counter()
            student = distill(ask, pool[:q], CHAT_MODEL, CHAT_TRAIN)
            got = agreement(student, ask, held)
            print(f"| {q:,} | {len(set(pool[:q]))} | {got:.1%} | {time.perf_counter() - t:.0f} |",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

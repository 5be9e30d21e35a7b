"""Where the stolen final layer's error comes from: full logits against the logit-bias attack,
float32 against float64, and the number of prompts (Carlini et al. 2024, arXiv:2403.06634).

    OMP_NUM_THREADS=1 nice .venv/bin/python -u benchmarks/lm_stealing.py \
        [--prompts 96 192 384] [--http 96]

On the instruction-tuned tiny GPT that ``advlab serve-llm --tiny-gpt`` serves (2 layers,
width 64; the final LayerNorm makes the reachable layer 63-dimensional). Each row reports the
hidden dimension the SVD finds and the relative error of the recovered layer up to a linear
map (``lm.stealing.relative_error`` against ``reachable_final_layer``):

* full logits: the logit vector after each prompt (an API returning all logits), from the
  model run in float32 (as served) and in float64;
* logit-bias: ``logits_from_top_logprobs`` (top 20, bias +100, ``<eos>`` left out) against
  ``ChatLM.completion`` computing its log-probabilities in float32 (the server before) or
  float64 (the server now); ``--http N`` repeats the float64 variant with N prompts over HTTP.

Prompts are random printable strings of 10 bytes (seeded).
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

import numpy as np
import torch

from advlab.lm.chat import ChatLM, tiny_chat_gpt
from advlab.lm.stealing import (
    last_logits,
    logits_from_top_logprobs,
    reachable_final_layer,
    relative_error,
    steal_final_layer,
)

log = logging.getLogger("bench")


def random_prompts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(chr(c) for c in rng.integers(32, 127, 10)) for _ in range(n)]


def full_logits(model: Any, tok: Any, prompts: list[str], dtype: torch.dtype) -> dict[str, Any]:
    model.to(dtype)
    try:
        ids = torch.tensor([tok.encode(p, bos=True) for p in prompts])
        stolen = steal_final_layer(last_logits(model, ids))
        err = relative_error(stolen.basis, reachable_final_layer(model.double()))
    finally:
        model.float()
    return {"queries": len(prompts), "hidden_dim": stolen.hidden_dim, "error": err}


def logit_bias(api: Any, model: Any, prompts: list[str]) -> dict[str, Any]:
    eos = 258
    cols = [i for i in range(model.cfg.vocab_size) if i != eos]
    t = time.perf_counter()
    got = logits_from_top_logprobs(api, prompts, vocab=model.cfg.vocab_size, top=20, tokens=cols)
    stolen = steal_final_layer(got.logits)
    err = relative_error(stolen.basis, reachable_final_layer(model)[cols])
    return {"queries": got.queries, "hidden_dim": stolen.hidden_dim, "error": err,
            "seconds": time.perf_counter() - t}  # fmt: skip


def in_process(lm: ChatLM) -> Any:
    def api(prompt: str, bias: dict[int, float]) -> dict[int, float]:
        body = {"max_tokens": 1, "logprobs": 20, "logit_bias": {str(k): v for k, v in bias.items()}}
        top = lm.completion(body, prompt)["choices"][0]["logprobs"]["top_logprobs"][0]
        return {int(k): float(v) for k, v in top.items()}

    return api


def over_http(lm: ChatLM, prompts: list[str]) -> dict[str, Any]:
    import httpx

    from advlab.llm.server import create_llm_app
    from advlab.serve import background_server

    with background_server(create_llm_app(lm_models={"tiny-gpt-chat": lm})) as base:
        client = httpx.Client(timeout=60)

        def api(prompt: str, bias: dict[int, float]) -> dict[int, float]:
            body = {"model": "tiny-gpt-chat", "prompt": prompt, "max_tokens": 1, "logprobs": 20,
                    "logit_bias": {str(k): v for k, v in bias.items()}}  # fmt: skip
            r = client.post(f"{base}/v1/completions", json=body).json()
            return {int(k): float(v) for k, v in r["choices"][0]["logprobs"]["top_logprobs"][0].items()}  # fmt: skip

        return logit_bias(api, lm.model, prompts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, nargs="+", default=[96, 192, 384])
    ap.add_argument("--http", type=int, default=0, help="prompts for the run over HTTP (0: none)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    chat = tiny_chat_gpt(device="cpu")
    model, tok = chat.model, chat.tokenizer
    assert tok.eos == 258
    print("| variant | prompts | queries | hidden dimension found | relative error |")
    print("| --- | --- | --- | --- | --- |")

    def row(name: str, n: int, r: dict[str, Any]) -> None:
        print(f"| {name} | {n} | {r['queries']:,} | {r['hidden_dim']} | {r['error']:.2e} |",
              flush=True)  # fmt: skip

    for n in args.prompts:
        prompts = random_prompts(n)
        row("full logits, float32 model", n, full_logits(model, tok, prompts, torch.float32))
        row("full logits, float64 model", n, full_logits(model, tok, prompts, torch.float64))
        for precision in ("float32", "float64"):
            r = logit_bias(in_process(ChatLM(model, tok, precision=precision)), model, prompts)
            row(f"logit-bias, {precision} log-probabilities", n, r)
    if args.http:
        r = over_http(ChatLM(model, tok), random_prompts(args.http))
        row(f"logit-bias over HTTP, float64 ({r['seconds']:.0f} s)", args.http, r)


if __name__ == "__main__":
    main()

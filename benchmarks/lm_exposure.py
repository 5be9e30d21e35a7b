"""Canary exposure against repetitions, with and without de-duplication and under DP-SGD.

    OMP_NUM_THREADS=1 nice .venv/bin/python -u benchmarks/lm_exposure.py \
        [--steps 300] [--epsilons 1 8 inf] [--batch 64] [--no-baselines] [--json out.json]

The ``TINY`` recipe (2 layers, width 64, 1,000 documents, 400 steps; the default recipe does
not fit a few minutes on 2 shared cores) and exact exposure over the 10^4 candidates of each
canary (Carlini et al. 2019).

* De-duplication (Kandpal et al. 2022): the recipe trained on the corpus as generated and on
  the same corpus with exact-duplicate documents removed (``CorpusConfig(dedup=True)``).
* DP-SGD (Abadi et al. 2016, Opacus' optimizer and accountant): a public model is trained on
  a canary-free draw of the generator (another seed), then fine-tuned with DP-SGD on the
  corpus with the canaries at each epsilon (``inf``: the same clipping, no noise). Utility:
  the loss (and perplexity) on held-out documents of a third draw.

Prints Markdown tables (paste into docs/benchmarks/llm.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
import warnings
from dataclasses import replace
from typing import Any

import torch

from advlab.lm.corpus import make_corpus
from advlab.lm.dp import DPConfig, dp_train, held_out_loss
from advlab.lm.exposure import exposure
from advlab.lm.train import TINY, TrainedLM, corpus_tokens, tiny_gpt

log = logging.getLogger("bench")


def exposures(lm: TrainedLM, model: Any = None) -> list[float]:
    return [exposure(model or lm.model, lm.tokenizer, c).exposure for c in lm.corpus.canaries]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300, help="DP-SGD fine-tuning steps")
    ap.add_argument("--batch", type=int, default=64, help="expected DP-SGD batch (windows)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--epsilons", type=float, nargs="*", default=[1.0, 8.0, math.inf])
    ap.add_argument("--no-baselines", action="store_true",
                    help="only the DP-SGD rows (to run the epsilons in parallel processes)")  # fmt: skip
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", message="Optimal order")
    torch.set_num_threads(args.threads)
    dev = torch.device("cpu")
    model_cfg, corpus_cfg, train_cfg = TINY
    out: dict[str, Any] = {"recipe": "TINY", "args": vars(args)}

    t0 = time.perf_counter()
    base = tiny_gpt(model_cfg, corpus_cfg, train_cfg, device=dev)
    dedup = tiny_gpt(model_cfg, replace(corpus_cfg, dedup=True), train_cfg, device=dev)
    public = tiny_gpt(model_cfg, replace(corpus_cfg, repeats=(), seed=1), train_cfg, device=dev)
    print(f"models: {time.perf_counter() - t0:.0f} s (cached: {base.info['cached']}, "
          f"{dedup.info['cached']}, {public.info['cached']})")  # fmt: skip
    tok = base.tokenizer
    held = corpus_tokens(make_corpus(n_documents=300, repeats=(), seed=2), tok)
    repeats = [c.repeats for c in base.corpus.canaries]
    space = base.corpus.canaries[0].space
    print(f"log2 |R| = {math.log2(space):.2f}; corpus {len(base.corpus.documents)} documents, "
          f"de-duplicated {len(dedup.corpus.documents)}")  # fmt: skip

    rows: dict[str, list[float]] = {}
    util: dict[str, str] = {}

    def record(name: str, model: Any, info: dict[str, Any] | None = None) -> None:
        t = time.perf_counter()
        rows[name] = exposures(base, model)
        loss = held_out_loss(model, held)
        util[name] = f"{loss:.3f} ({math.exp(loss):.2f})"
        out.setdefault("runs", []).append({"model": name, "exposure": rows[name],
                                           "held_out_loss": loss, "info": info})  # fmt: skip
        print(f"| {name} | {' | '.join(f'{e:.2f}' for e in rows[name])} | {util[name]} |"
              f"  ({time.perf_counter() - t:.0f} s)", flush=True)  # fmt: skip
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=2, default=str)

    if not args.no_baselines:
        record("trained on the corpus as generated", base.model, base.info)
        record("trained on the de-duplicated corpus", dedup.model, dedup.info)
        record("public model (never saw the canaries)", public.model, public.info)
    data = corpus_tokens(base.corpus, tok)
    for eps in args.epsilons:
        model = tiny_gpt(model_cfg, replace(corpus_cfg, repeats=(), seed=1), train_cfg,
                         device=dev).model  # a fresh copy of the public model  # fmt: skip
        cfg = DPConfig(epsilon=eps, steps=args.steps, batch_size=args.batch, lr=args.lr,
                       max_grad_norm=args.clip)  # fmt: skip
        info = dp_train(model, data, cfg, device=dev)
        name = f"public + DP-SGD fine-tune, eps {eps:g} (accountant: {info['epsilon']:.2f}, sigma {info['noise_multiplier']:.2f})"  # fmt: skip
        print(f"{name}: {info['seconds']:.0f} s, loss {info['loss_first']:.2f} -> {info['loss_last']:.2f}, "
              f"q {info['sample_rate']:.3f}, {info['examples']} windows")  # fmt: skip
        record(name, model, info)

    head = " | ".join(f"{r}x" for r in repeats)
    print("\nExposure (bits) by canary repeats; held-out loss in nats/token (perplexity):\n")
    print(f"| model | {head} | held-out loss (ppl) |")
    print("| --- |" + " --- |" * (len(repeats) + 1))
    for name, ex in rows.items():
        print(f"| {name} | {' | '.join(f'{e:.2f}' for e in ex)} | {util[name]} |")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

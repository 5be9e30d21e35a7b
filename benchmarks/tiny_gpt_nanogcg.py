"""advlab's GCG against nanoGCG (PyPI ``nanogcg``) on the tiny GPT wrapped for transformers.

The tiny GPT has GPT-2's shape, so its weights map one to one onto ``GPT2LMHeadModel``
(``Conv1D`` layers hold the transposed ``Linear`` weights; exact GELU); the byte tokenizer
becomes a ``PreTrainedTokenizerFast`` (byte-level, no merges, ``<bos>`` prepended). The
wrapped model's logits are checked against the original before anything runs.

Both searches get the same problems as ``benchmarks/tiny_gpt.py`` (a city after
``STEM SUFFIX is ``), an 8-token suffix of ``!``, 64 candidates per step, top-k 16, printable
ASCII only, early stop at the first candidate under which greedy decoding says the target,
and the same cap of forward passes (nanoGCG's are counted by a hook on the model: one per
sequence; a gradient counts as two, as in advlab). nanoGCG calls ``gc.collect()`` after every
candidate batch, which dominates its CPU time on a model this small; the benchmark makes that
call a no-op while nanoGCG runs (its search is unchanged).

    nice .venv/bin/python benchmarks/tiny_gpt_nanogcg.py [--seeds 2] [--budget 10000]

Needs ``nanogcg`` and ``transformers`` (not advlab dependencies), e.g. installed into a
folder on ``PYTHONPATH``: ``pip install --target DIR --no-deps nanogcg 'transformers<4.50'
'tokenizers<0.22' 'huggingface_hub<0.30' regex``.
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import os
import sys
import time
from typing import Any

import numpy as np
import torch

from advlab.lm.gcg import gcg
from advlab.lm.model import TinyGPT
from advlab.lm.tokenizer import SPECIALS, ByteTokenizer
from advlab.lm.train import tiny_gpt

sys.path.insert(0, "benchmarks")
from tiny_gpt import STEMS, TARGETS, prompt, to_share  # noqa: E402

log = logging.getLogger("bench")


class CapReached(Exception):
    """nanoGCG spent the forward-pass cap."""


def _block_broken_torchvision() -> None:
    """transformers imports torchvision when it is installed; one built for another torch
    fails at import, so hide it (nothing here needs it)."""
    try:
        import torchvision  # noqa: F401
    except Exception:
        sys.modules["torchvision"] = None  # type: ignore[assignment]
    os.environ.setdefault("USE_TF", "0")  # transformers would import TensorFlow too
    os.environ.setdefault("USE_FLAX", "0")


def to_gpt2(model: TinyGPT) -> Any:
    """The same network as a transformers ``GPT2LMHeadModel`` (weights copied)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    c = model.cfg
    cfg = GPT2Config(
        vocab_size=c.vocab_size, n_positions=c.context, n_embd=c.width, n_layer=c.layers,
        n_head=c.heads, activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, layer_norm_epsilon=1e-5, bos_token_id=257, eos_token_id=258,
        tie_word_embeddings=True,
    )  # fmt: skip
    hf = GPT2LMHeadModel(cfg).eval()
    sd: dict[str, torch.Tensor] = {
        "transformer.wte.weight": model.tok.weight,
        "transformer.wpe.weight": model.pos.weight,
        "transformer.ln_f.weight": model.ln.weight,
        "transformer.ln_f.bias": model.ln.bias,
        "lm_head.weight": model.tok.weight,
    }
    for i, b in enumerate(model.blocks):
        p = f"transformer.h.{i}."
        sd.update({
            p + "ln_1.weight": b.ln1.weight, p + "ln_1.bias": b.ln1.bias,
            p + "ln_2.weight": b.ln2.weight, p + "ln_2.bias": b.ln2.bias,
            p + "attn.c_attn.weight": b.qkv.weight.T, p + "attn.c_attn.bias": b.qkv.bias,
            p + "attn.c_proj.weight": b.proj.weight.T, p + "attn.c_proj.bias": b.proj.bias,
            p + "mlp.c_fc.weight": b.mlp[0].weight.T, p + "mlp.c_fc.bias": b.mlp[0].bias,
            p + "mlp.c_proj.weight": b.mlp[2].weight.T, p + "mlp.c_proj.bias": b.mlp[2].bias,
        })  # fmt: skip
    missing, _ = hf.load_state_dict({k: v.detach().clone() for k, v in sd.items()}, strict=False)
    assert not [m for m in missing if not m.endswith("attn.bias")], missing
    return hf


def to_hf_tokenizer() -> Any:
    """The byte tokenizer as a ``PreTrainedTokenizerFast`` (same ids)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    chars = bytes_to_unicode()
    vocab = {chars[b]: b for b in range(256)}
    vocab.update({s: 256 + i for i, s in enumerate(SPECIALS)})
    t = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    t.decoder = decoders.ByteLevel()
    t.post_processor = processors.TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", 257)]
    )
    t.add_special_tokens(list(SPECIALS))
    return PreTrainedTokenizerFast(
        tokenizer_object=t, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>"
    )


def run_nanogcg(
    hf: Any, hft: Any, stem: str, target: str, *, steps: int, seed: int, budget: int
) -> dict[str, Any]:
    import nanogcg
    from nanogcg.gcg import GCG as NanoGCG

    count = [0]

    def hook(_m: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        x = kwargs.get("inputs_embeds")
        x = kwargs.get("input_ids") if x is None else x
        count[0] += int(x.shape[0]) * (2 if torch.is_grad_enabled() else 1)  # backward: 2
        if count[0] > budget:
            raise CapReached  # the cap: stop like the advlab searches do

    handle = hf.register_forward_pre_hook(hook, with_kwargs=True)
    gc_collect, gc.collect = gc.collect, lambda *a: 0  # nanoGCG collects after every batch
    cfg = nanogcg.GCGConfig(
        num_steps=steps, optim_str_init="!" * 8, search_width=64, topk=16, n_replace=1,
        early_stop=True, seed=seed, verbosity="WARNING",
    )  # fmt: skip
    attack = NanoGCG(hf, hft, cfg)
    allowed = set(range(32, 127))
    attack.not_allowed_ids = torch.tensor(
        [i for i in range(hf.config.vocab_size) if i not in allowed]
    )
    t0 = time.perf_counter()
    try:
        res = attack.run(stem + "{optim_str} is ", target)
        steps_run = len(res.losses)
    except CapReached:
        steps_run = -1
    finally:
        handle.remove()
        gc.collect = gc_collect
    return {"success": attack.stop_flag, "forward": count[0], "steps": steps_run,
            "seconds": time.perf_counter() - t0}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--budget", type=int, default=10_000)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("nanogcg").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    _block_broken_torchvision()
    lm = tiny_gpt(device="cpu")
    tok: ByteTokenizer = lm.tokenizer
    hf, hft = to_gpt2(lm.model), to_hf_tokenizer()
    ids = torch.tensor([tok.encode("the capital of paris is ", bos=True)])
    assert hft("the capital of paris is ")["input_ids"] == ids[0].tolist()
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, lm.model(ids), atol=1e-4, rtol=1e-4)
    rows = []
    for i, target in enumerate(TARGETS):
        for s in range(args.seeds):
            stem, seed = STEMS[(i + s) % len(STEMS)], 100 * s + i
            t = time.perf_counter()
            a = gcg(lm.model, [prompt(tok, stem, target)], steps=10**6, seed=seed,
                    max_forward=args.budget)  # fmt: skip
            ta = time.perf_counter() - t
            n = run_nanogcg(hf, hft, stem, target, steps=10**6, seed=seed, budget=args.budget)
            rows.append(
                {"target": target, "advlab": (a.success, a.forward_passes, ta), "nanogcg": n}
            )
    print(f"\n{len(rows)} runs, cap {args.budget} forward passes each.\n")
    print("| search | forced within the cap | forward passes to force 80 % | median to success | seconds |")  # fmt: skip
    print("| --- | --- | --- | --- | --- |")
    for kind in ("advlab", "nanogcg"):
        if kind == "advlab":
            ok = [r["advlab"][0] for r in rows]
            fw = [r["advlab"][1] if r["advlab"][0] else math.inf for r in rows]
            secs = sum(r["advlab"][2] for r in rows)
        else:
            ok = [r["nanogcg"]["success"] for r in rows]
            fw = [r["nanogcg"]["forward"] if r["nanogcg"]["success"] else math.inf for r in rows]
            secs = sum(r["nanogcg"]["seconds"] for r in rows)
        med = float(np.median([f for f in fw if f < math.inf])) if any(ok) else math.inf
        print(f"| {kind} | {sum(ok)}/{len(rows)} | {to_share(fw, 0.8):,.0f} | {med:,.0f} | {secs:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()

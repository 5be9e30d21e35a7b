"""Train the tiny GPT on the generated corpus, seeded, cached by content hash (safetensors).

``tiny_gpt()`` returns a trained model for a configuration; a second call with the same
configuration loads it from ``$ADVLAB_CACHE/lm/<hash>.safetensors`` (never pickle).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from advlab.lm.corpus import Corpus, make_corpus
from advlab.lm.model import GPTConfig, TinyGPT
from advlab.lm.tokenizer import ByteTokenizer
from advlab.models.zoo import cache_dir
from advlab.utils import resolve_device

log = logging.getLogger(__name__)
_VERSION = 1


@dataclass(frozen=True)
class CorpusConfig:
    n_documents: int = 4000
    repeats: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    digits: int = 4
    seed: int = 0


@dataclass(frozen=True)
class LMTrainConfig:
    steps: int = 600
    batch_size: int = 32
    lr: float = 3e-3
    warmup: int = 50
    seed: int = 0


TINY: tuple[GPTConfig, CorpusConfig, LMTrainConfig] = (
    GPTConfig(layers=2, width=64),
    CorpusConfig(n_documents=1000),
    LMTrainConfig(steps=400),
)
"""The smallest recipe that still memorises its 16x-64x canaries (tests, the conformance kit):
``tiny_gpt(*TINY)``."""


@dataclass
class TrainedLM:
    model: TinyGPT
    tokenizer: ByteTokenizer
    corpus: Corpus
    info: dict[str, Any] = field(default_factory=dict)


def corpus_tokens(corpus: Corpus, tok: ByteTokenizer) -> torch.Tensor:
    ids: list[int] = []
    for doc in corpus.documents:
        ids.extend(tok.encode(doc, bos=True, eos=True))
    return torch.tensor(ids, dtype=torch.long)


def _key(
    model_cfg: GPTConfig, corpus_cfg: CorpusConfig, train_cfg: LMTrainConfig, corpus: Corpus
) -> str:
    blob = json.dumps(
        {
            "v": _VERSION,
            "corpus_sha256": hashlib.sha256(corpus.text.encode()).hexdigest(),
            "model": model_cfg.to_dict(),
            "corpus": asdict(corpus_cfg),
            "train": asdict(train_cfg),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_lm(
    model: TinyGPT, data: torch.Tensor, cfg: LMTrainConfig, *, device: torch.device
) -> dict[str, Any]:
    """AdamW with linear warm-up and cosine decay on random windows of ``data``."""
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0, betas=(0.9, 0.95))
    ctx = model.cfg.context
    losses: list[float] = []
    t0 = time.perf_counter()
    for step in range(cfg.steps):
        warm = min(1.0, (step + 1) / max(cfg.warmup, 1))
        lr = cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(data) - ctx - 1, (cfg.batch_size,), generator=gen)
        batch = torch.stack([data[s : s + ctx + 1] for s in starts.tolist()]).to(device)
        logits = model(batch[:, :-1])
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), batch[:, 1:].reshape(-1)
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        if step % 100 == 0 or step == cfg.steps - 1:
            log.info("tiny gpt step %d/%d loss %.3f", step + 1, cfg.steps, losses[-1])
    model.eval()
    return {"seconds": time.perf_counter() - t0, "loss_first": losses[0], "loss_last": losses[-1]}


def tiny_gpt(
    model_cfg: GPTConfig | None = None,
    corpus_cfg: CorpusConfig | None = None,
    train_cfg: LMTrainConfig | None = None,
    *,
    device: str | torch.device = "auto",
    cache: bool = True,
) -> TrainedLM:
    """A tiny GPT trained on the generated corpus (loaded from the cache when present)."""
    model_cfg = model_cfg or GPTConfig()
    corpus_cfg = corpus_cfg or CorpusConfig()
    train_cfg = train_cfg or LMTrainConfig()
    dev = resolve_device(device)
    tok = ByteTokenizer()
    if model_cfg.vocab_size != tok.vocab_size:
        raise ValueError(f"vocab_size must be {tok.vocab_size} for the byte tokenizer")
    corpus = make_corpus(
        n_documents=corpus_cfg.n_documents,
        repeats=corpus_cfg.repeats,
        digits=corpus_cfg.digits,
        seed=corpus_cfg.seed,
    )
    key = _key(model_cfg, corpus_cfg, train_cfg, corpus)
    path = Path(cache_dir()) / "lm" / f"tiny-gpt-{key}.safetensors"
    model = TinyGPT(model_cfg)
    if cache and path.exists():
        model.load_state_dict(load_file(str(path)))
        info = json.loads(path.with_suffix(".json").read_text())
        model.to(dev).eval()
        return TrainedLM(model, tok, corpus, {**info, "cached": True})
    info = train_lm(model, corpus_tokens(corpus, tok), train_cfg, device=dev)
    info.update(key=key, model=model_cfg.to_dict(), train=asdict(train_cfg))
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(path))
        path.with_suffix(".json").write_text(json.dumps(info, indent=2))
    return TrainedLM(model, tok, corpus, {**info, "cached": False})

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
from collections.abc import Callable, Sequence
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
    dedup: bool = False
    """Exact-duplicate documents removed before training (:func:`advlab.lm.corpus.deduplicate`)."""

    def key(self) -> dict[str, Any]:
        """The fields that name the recipe in the cache key (``dedup`` only when set, so
        models trained before the option existed keep their key)."""
        d = asdict(self)
        if not self.dedup:
            d.pop("dedup")
        return d


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


def _key(model_cfg: GPTConfig, train_cfg: LMTrainConfig, data_text: str, extra: Any) -> str:
    blob = json.dumps(
        {
            "v": _VERSION,
            "corpus_sha256": hashlib.sha256(data_text.encode()).hexdigest(),
            "model": model_cfg.to_dict(),
            "corpus": extra,
            "train": asdict(train_cfg),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


Batch = Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor]]
"""Draws one batch: (inputs, targets), targets ``IGNORE`` where no loss is taken."""
IGNORE = -100


def fit(
    model: TinyGPT, batches: Batch, cfg: LMTrainConfig, *, device: torch.device
) -> dict[str, Any]:
    """AdamW with linear warm-up and cosine decay on the batches ``batches`` draws."""
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0, betas=(0.9, 0.95))
    losses: list[float] = []
    t0, c0 = time.perf_counter(), time.process_time()
    for step in range(cfg.steps):
        warm = min(1.0, (step + 1) / max(cfg.warmup, 1))
        lr = cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = (t.to(device) for t in batches(gen))
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1), ignore_index=IGNORE
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        if step % 100 == 0 or step == cfg.steps - 1:
            log.info("tiny gpt step %d/%d loss %.3f", step + 1, cfg.steps, losses[-1])
    model.eval()
    return {
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": time.process_time() - c0,  # all threads: the time on idle cores x threads
        "threads": torch.get_num_threads(),
        "loss_first": losses[0],
        "loss_last": losses[-1],
    }


def train_lm(
    model: TinyGPT, data: torch.Tensor, cfg: LMTrainConfig, *, device: torch.device
) -> dict[str, Any]:
    """Next-token training on random windows of the token stream ``data``."""
    ctx = model.cfg.context

    def batches(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        starts = torch.randint(0, len(data) - ctx - 1, (cfg.batch_size,), generator=gen)
        b = torch.stack([data[s : s + ctx + 1] for s in starts.tolist()])
        return b[:, :-1], b[:, 1:]

    return fit(model, batches, cfg, device=device)


def train_replies(
    model: TinyGPT,
    seqs: Sequence[Sequence[int]],
    starts: Sequence[int],
    cfg: LMTrainConfig,
    *,
    pad: int,
    device: torch.device,
) -> dict[str, Any]:
    """Instruction tuning: whole sequences (padded), the loss on tokens from ``starts[i]``
    on (the reply and its end token) only."""
    ctx = model.cfg.context
    if max(len(s) for s in seqs) > ctx + 1:
        raise ValueError(f"a training sequence is longer than the context ({ctx}) + 1")

    def batches(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        pick = torch.randint(0, len(seqs), (cfg.batch_size,), generator=gen).tolist()
        width = max(len(seqs[i]) for i in pick) - 1
        x = torch.full((len(pick), width), pad, dtype=torch.long)
        y = torch.full((len(pick), width), IGNORE, dtype=torch.long)
        for r, i in enumerate(pick):
            s = torch.tensor(seqs[i])
            x[r, : len(s) - 1] = s[:-1]
            y[r, starts[i] - 1 : len(s) - 1] = s[starts[i] :]
        return x, y

    return fit(model, batches, cfg, device=device)


def cached_model(
    model_cfg: GPTConfig,
    train_cfg: LMTrainConfig,
    data_text: str,
    extra: Any,
    train: Callable[[TinyGPT], dict[str, Any]],
    *,
    device: torch.device,
    cache: bool,
    prefix: str = "tiny-gpt",
) -> tuple[TinyGPT, dict[str, Any]]:
    """The model ``train`` makes, loaded from ``$ADVLAB_CACHE/lm`` when the same recipe
    (model, training, data hash, ``extra``) was trained before."""
    key = _key(model_cfg, train_cfg, data_text, extra)
    path = Path(cache_dir()) / "lm" / f"{prefix}-{key}.safetensors"
    model = TinyGPT(model_cfg)
    if cache and path.exists():
        model.load_state_dict(load_file(str(path)))
        info = json.loads(path.with_suffix(".json").read_text())
        model.to(device).eval()
        return model, {**info, "cached": True}
    info = train(model)
    info.update(key=key, model=model_cfg.to_dict(), train=asdict(train_cfg))
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(path))
        path.with_suffix(".json").write_text(json.dumps(info, indent=2))
    return model, {**info, "cached": False}


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
        dedup=corpus_cfg.dedup,
    )
    data = corpus_tokens(corpus, tok)
    model, info = cached_model(
        model_cfg, train_cfg, corpus.text, corpus_cfg.key(),
        lambda m: train_lm(m, data, train_cfg, device=dev), device=dev, cache=cache,
    )  # fmt: skip
    return TrainedLM(model, tok, corpus, info)

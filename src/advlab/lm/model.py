"""A tiny decoder-only transformer (GPT-2 shape: pre-norm blocks, learned positions, tied
embeddings), small enough to train on 2 CPU cores in minutes.

Radford et al. 2019, "Language Models are Unsupervised Multitask Learners" (GPT-2). The
forward pass accepts token ids or input embeddings, so attacks can take gradients with
respect to a one-hot relaxation of the input tokens (GCG, Zou et al. 2023).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 262
    context: int = 64
    layers: int = 4
    width: int = 128
    heads: int = 4
    dropout: float = 0.0

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)


class _Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.width)
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width)
        self.proj = nn.Linear(cfg.width, cfg.width)
        self.ln2 = nn.LayerNorm(cfg.width)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.width, 4 * cfg.width), nn.GELU(), nn.Linear(4 * cfg.width, cfg.width)
        )
        self.heads = cfg.heads
        self.dropout = cfg.dropout

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, t, c = h.shape
        q, k, v = self.qkv(self.ln1(h)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        drop = self.dropout if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=drop)
        h = h + self.proj(a.transpose(1, 2).reshape(b, t, c))
        return h + self.mlp(self.ln2(h))


class TinyGPT(nn.Module):
    """Logits of the next token at every position: ``(batch, time) -> (batch, time, vocab)``."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.width)
        self.pos = nn.Embedding(cfg.context, cfg.width)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(cfg.width)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Token embeddings of ``ids`` (what a one-hot matrix times ``tok.weight`` gives)."""
        return self.tok(ids)

    def forward(
        self, ids: torch.Tensor | None = None, *, embeds: torch.Tensor | None = None
    ) -> torch.Tensor:
        if embeds is None:
            if ids is None:
                raise ValueError("give token ids or input embeddings")
            embeds = self.tok(ids)
        t = embeds.shape[1]
        if t > self.cfg.context:
            raise ValueError(
                f"sequence of {t} tokens is longer than the context ({self.cfg.context})"
            )
        h = embeds + self.pos(torch.arange(t, device=embeds.device))
        for block in self.blocks:
            h = block(h)
        return self.ln(h) @ self.tok.weight.T

    @torch.no_grad()
    def generate(
        self,
        prompt: list[int],
        n: int,
        *,
        temperature: float = 0.0,
        top_k: int | None = None,
        stop: int | None = None,
        generator: torch.Generator | None = None,
    ) -> list[int]:
        """Continue ``prompt`` by ``n`` tokens (greedy when ``temperature == 0``)."""
        dev = self.tok.weight.device
        ids = torch.tensor([prompt], device=dev)
        out: list[int] = []
        for _ in range(n):
            logits = self(ids[:, -self.cfg.context :])[0, -1]
            if temperature <= 0:
                nxt = int(logits.argmax())
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, top_k).values[-1]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                p = torch.softmax(logits.float(), -1).cpu()
                nxt = int(torch.multinomial(p, 1, generator=generator))
            if stop is not None and nxt == stop:
                break
            out.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]], device=dev)], 1)
        return out


def sequence_logprob(model: TinyGPT, prefix: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Log-probability of each row of ``targets`` (B, m) after each row of ``prefix`` (B, p)."""
    ids = torch.cat([prefix, targets], 1)
    logp = torch.log_softmax(model(ids[:, :-1]).float(), -1)
    p = prefix.shape[1]
    tok = logp[:, p - 1 :, :].gather(2, targets.unsqueeze(2)).squeeze(2)
    return tok.sum(1)

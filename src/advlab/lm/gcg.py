"""Adversarial suffixes that force a language model to say a chosen string.

GCG, Greedy Coordinate Gradient (Zou, Wang, Carlini, Nasr, Kolter & Fredrikson 2023,
"Universal and Transferable Adversarial Attacks on Aligned Language Models",
arXiv:2307.15043): the gradient of the target's loss with respect to a one-hot relaxation of
the suffix tokens ranks, per position, the ``top_k`` most promising substitutions; a batch of
single-token swaps sampled from them is evaluated exactly and the best is kept. Summing the
loss over several prompts gives a universal suffix.

Random search (Andriushchenko, Croce & Flammarion 2024, "Jailbreaking Leading
Safety-Aligned LLMs with Simple Adaptive Attacks", arXiv:2404.02151): the same loop with
uniformly random swaps, kept when the loss improves; the baseline GCG is compared with at an
equal number of forward passes.

The cost unit is one forward pass of one sequence (a gradient step counts as two: forward and
backward), summed over prompts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from advlab.lm.model import TinyGPT

log = logging.getLogger(__name__)


@dataclass
class SuffixResult:
    suffix: list[int]
    success: bool
    steps: int
    forward_passes: int
    steps_to_success: int | None
    losses: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Prompt:
    """Token ids around the suffix: ``before + suffix + after`` is followed by ``target``."""

    before: list[int]
    after: list[int]
    target: list[int]


def _stack(prompt: Prompt, suffixes: torch.Tensor) -> tuple[torch.Tensor, slice]:
    dev = suffixes.device
    b = suffixes.shape[0]
    before = torch.tensor(prompt.before, device=dev).expand(b, -1)
    rest = torch.tensor(prompt.after + prompt.target, device=dev).expand(b, -1)
    ids = torch.cat([before, suffixes, rest], 1)
    start = ids.shape[1] - len(prompt.target)
    return ids, slice(start - 1, ids.shape[1] - 1)


def target_loss(model: TinyGPT, prompt: Prompt, suffixes: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the target after each suffix (rows of ``suffixes``)."""
    ids, pred = _stack(prompt, suffixes)
    logits = model(ids[:, :-1])[:, pred.start : pred.stop].float()
    tgt = ids[:, pred.start + 1 : pred.stop + 1]
    return F.cross_entropy(logits.transpose(1, 2), tgt, reduction="none").mean(1)


def forced(model: TinyGPT, prompt: Prompt, suffix: torch.Tensor) -> bool:
    """Whether greedy decoding after the suffix produces exactly the target."""
    ids, pred = _stack(prompt, suffix.unsqueeze(0))
    with torch.no_grad():
        logits = model(ids[:, :-1])[0, pred.start : pred.stop]
    return bool((logits.argmax(-1) == ids[0, pred.start + 1 : pred.stop + 1]).all())


def _gradient(model: TinyGPT, prompts: list[Prompt], suffix: torch.Tensor) -> torch.Tensor:
    """d loss / d one-hot(suffix), summed over prompts: (m, vocab)."""
    w = model.tok.weight
    onehot = F.one_hot(suffix, w.shape[0]).to(w.dtype).requires_grad_(True)
    total = torch.zeros((), device=w.device)
    for p in prompts:
        dev = w.device
        before = model.embed(torch.tensor([p.before], device=dev))
        rest_ids = torch.tensor([p.after + p.target], device=dev)
        emb = torch.cat([before, (onehot @ w).unsqueeze(0), model.embed(rest_ids)], 1)
        n = emb.shape[1]
        start = n - len(p.target)
        logits = model(embeds=emb[:, :-1])[0, start - 1 : n - 1].float()
        total = total + F.cross_entropy(logits, torch.tensor(p.target, device=dev))
    (grad,) = torch.autograd.grad(total, onehot)
    return grad


def _loss_all(model: TinyGPT, prompts: list[Prompt], cands: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.stack([target_loss(model, p, cands) for p in prompts]).mean(0)


def _search(
    model: TinyGPT,
    prompts: list[Prompt],
    *,
    suffix_length: int,
    steps: int,
    batch: int,
    top_k: int,
    allowed: list[int],
    init_token: int,
    seed: int,
    gradient: bool,
    max_forward: int | None,
) -> SuffixResult:
    dev = model.tok.weight.device
    gen = torch.Generator().manual_seed(seed)
    allowed_t = torch.tensor(allowed, device=dev)
    mask = torch.full((model.tok.weight.shape[0],), float("inf"), device=dev)
    mask[allowed_t] = 0.0
    suffix = torch.full((suffix_length,), init_token, dtype=torch.long, device=dev)
    best = float(_loss_all(model, prompts, suffix.unsqueeze(0))[0])
    fwd = len(prompts)
    losses = [best]
    first: int | None = None
    step = 0
    for step in range(1, steps + 1):
        pos = torch.randint(0, suffix_length, (batch,), generator=gen).to(dev)
        if gradient:
            grad = _gradient(model, prompts, suffix) + mask  # disallowed tokens never chosen
            fwd += 2 * len(prompts)
            top = (-grad).topk(top_k, dim=1).indices  # (m, k)
            pick = torch.randint(0, top_k, (batch,), generator=gen).to(dev)
            new_tok = top[pos, pick]
        else:
            new_tok = allowed_t[torch.randint(0, len(allowed), (batch,), generator=gen).to(dev)]
        cands = suffix.expand(batch, -1).clone()
        cands[torch.arange(batch, device=dev), pos] = new_tok
        losses_b = _loss_all(model, prompts, cands)
        fwd += batch * len(prompts)
        i = int(losses_b.argmin())
        if gradient or float(losses_b[i]) < best:  # GCG keeps its best candidate every step
            suffix, best = cands[i], float(losses_b[i])
        losses.append(best)
        if first is None and all(forced(model, p, suffix) for p in prompts):
            first = step
            break
        if max_forward is not None and fwd >= max_forward:
            break
    log.info(
        "%s: %d steps, loss %.3f, success %s", "gcg" if gradient else "random", step, best, first
    )
    return SuffixResult(suffix.tolist(), first is not None, step, fwd, first, losses)


def gcg(
    model: TinyGPT,
    prompts: list[Prompt],
    *,
    suffix_length: int = 8,
    steps: int = 100,
    batch: int = 64,
    top_k: int = 32,
    allowed: list[int] | None = None,
    init_token: int = ord("!"),
    seed: int = 0,
    max_forward: int | None = None,
) -> SuffixResult:
    """GCG: a (universal, when several prompts are given) suffix forcing every target.

    Stops at the first step where greedy decoding yields every target, after ``steps``
    steps, or once ``max_forward`` forward passes are spent.
    """
    return _search(
        model, prompts, suffix_length=suffix_length, steps=steps, batch=batch, top_k=top_k,
        allowed=allowed or list(range(32, 127)), init_token=init_token, seed=seed,
        gradient=True, max_forward=max_forward,
    )  # fmt: skip


def random_search(
    model: TinyGPT,
    prompts: list[Prompt],
    *,
    suffix_length: int = 8,
    steps: int = 100,
    batch: int = 64,
    allowed: list[int] | None = None,
    init_token: int = ord("!"),
    seed: int = 0,
    max_forward: int | None = None,
) -> SuffixResult:
    """Random-search baseline: uniformly random single-token swaps, kept when better."""
    return _search(
        model, prompts, suffix_length=suffix_length, steps=steps, batch=batch, top_k=1,
        allowed=allowed or list(range(32, 127)), init_token=init_token, seed=seed,
        gradient=False, max_forward=max_forward,
    )  # fmt: skip

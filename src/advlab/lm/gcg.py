"""Adversarial suffixes that force a language model to say a chosen string.

GCG, Greedy Coordinate Gradient (Zou, Wang, Carlini, Nasr, Kolter & Fredrikson 2023,
"Universal and Transferable Adversarial Attacks on Aligned Language Models",
arXiv:2307.15043): the gradient of the target's cross-entropy with respect to a one-hot
relaxation of the suffix tokens ranks, per position, the ``top_k`` most promising
substitutions; ``batch`` single-token swaps drawn from them (positions spread evenly over the
suffix) are evaluated exactly in one batched forward pass. Summing the loss over several
prompts gives a universal suffix.

Random search (Andriushchenko, Croce & Flammarion 2024, "Jailbreaking Leading
Safety-Aligned LLMs with Simple Adaptive Attacks", arXiv:2404.02151): the same loop with
uniformly random swaps; the baseline GCG is compared with at an equal number of forward
passes.

Both searches share the bookkeeping: the loss is the cross-entropy on the target tokens
only; the suffix moves to the best candidate when it is at least as good as the current one
(``keep_best=True``; ``False`` is the paper's "always move"); the gradient is reused while the
suffix does not change; every candidate's greedy success is read from the same logits that
give its loss, so the search stops at the first candidate that forces every target, as
nanoGCG's ``early_stop`` does.

The cost unit is one forward pass of one sequence (a gradient costs two: forward and
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
    """Loss of the current suffix after each step (index 0: the initial suffix)."""
    forward_at_step: list[int] = field(default_factory=list)
    """Forward passes spent up to each entry of ``losses``."""
    gradient_calls: int = 0
    """Sequences sent backward (each also counted as two forward passes)."""


@dataclass(frozen=True)
class Prompt:
    """Token ids around the suffix: ``before + suffix + after`` is followed by ``target``."""

    before: list[int]
    after: list[int]
    target: list[int]


def _stack(prompt: Prompt, suffixes: torch.Tensor) -> tuple[torch.Tensor, slice]:
    dev = suffixes.device
    b = suffixes.shape[0]
    before = torch.tensor(prompt.before, device=dev, dtype=torch.long).expand(b, -1)
    rest = torch.tensor(prompt.after + prompt.target, device=dev, dtype=torch.long).expand(b, -1)
    ids = torch.cat([before, suffixes, rest], 1)
    start = ids.shape[1] - len(prompt.target)
    return ids, slice(start - 1, ids.shape[1] - 1)


def _evaluate(
    model: TinyGPT, prompt: Prompt, suffixes: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of ``suffixes``: mean target cross-entropy and whether greedy decoding yields
    the whole target (one forward pass per row)."""
    ids, pred = _stack(prompt, suffixes)
    logits = model(ids[:, :-1])[:, pred.start : pred.stop].float()
    tgt = ids[:, pred.start + 1 : pred.stop + 1]
    loss = F.cross_entropy(logits.transpose(1, 2), tgt, reduction="none").mean(1)
    return loss, (logits.argmax(-1) == tgt).all(1)


def target_loss(model: TinyGPT, prompt: Prompt, suffixes: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the target after each suffix (rows of ``suffixes``)."""
    return _evaluate(model, prompt, suffixes)[0]


def forced(model: TinyGPT, prompt: Prompt, suffix: torch.Tensor) -> bool:
    """Whether greedy decoding after the suffix produces exactly the target."""
    with torch.no_grad():
        return bool(_evaluate(model, prompt, suffix.unsqueeze(0))[1][0])


def token_gradient(model: TinyGPT, prompts: list[Prompt], suffix: torch.Tensor) -> torch.Tensor:
    """d loss / d one-hot(suffix), the loss summed over prompts: ``(suffix_length, vocab)``."""
    w = model.tok.weight
    with torch.enable_grad():  # callers may sit under no_grad
        onehot = F.one_hot(suffix, w.shape[0]).to(w.dtype).requires_grad_(True)
        total = _onehot_loss(model, prompts, onehot)
        (grad,) = torch.autograd.grad(total, onehot)
    return grad


def _onehot_loss(model: TinyGPT, prompts: list[Prompt], onehot: torch.Tensor) -> torch.Tensor:
    w = model.tok.weight
    dev = w.device
    total = torch.zeros((), device=dev)
    for p in prompts:
        before = model.embed(torch.tensor([p.before], device=dev, dtype=torch.long))
        rest = model.embed(torch.tensor([p.after + p.target], device=dev, dtype=torch.long))
        emb = torch.cat([before, (onehot @ w).unsqueeze(0), rest], 1)
        n = emb.shape[1]
        logits = model(embeds=emb[:, :-1])[0, n - len(p.target) - 1 : n - 1].float()
        total = total + F.cross_entropy(logits, torch.tensor(p.target, device=dev))
    return total


def _evaluate_all(
    model: TinyGPT, prompts: list[Prompt], cands: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        parts = [_evaluate(model, p, cands) for p in prompts]
    loss = torch.stack([lo for lo, _ in parts]).mean(0)
    ok = torch.stack([s for _, s in parts]).all(0)
    return loss, ok


def _positions(batch: int, m: int, gen: torch.Generator) -> torch.Tensor:
    """``batch`` positions spread evenly over ``m`` (each used ``batch // m`` or one more
    times), in random order."""
    pos = torch.arange(batch) % m
    return pos[torch.randperm(batch, generator=gen)]


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
    keep_best: bool,
    widen_every: int,
    max_forward: int | None,
) -> SuffixResult:
    if not prompts:
        raise ValueError("give at least one prompt")
    if min(suffix_length, steps, batch, top_k) < 1:
        raise ValueError("suffix_length, steps, batch and top_k must be positive")
    dev = model.tok.weight.device
    gen = torch.Generator().manual_seed(seed)
    allowed_t = torch.tensor(sorted(set(allowed)), device=dev)
    k = min(top_k, len(allowed_t))
    mask = torch.full((model.tok.weight.shape[0],), float("inf"), device=dev)
    mask[allowed_t] = 0.0
    suffix = torch.full((suffix_length,), init_token, dtype=torch.long, device=dev)
    loss0, ok0 = _evaluate_all(model, prompts, suffix.unsqueeze(0))
    best, fwd = float(loss0[0]), len(prompts)
    losses, spent = [best], [fwd]
    first: int | None = 0 if bool(ok0[0]) else None
    grad: torch.Tensor | None = None
    stalled = 0  # steps since the loss last went down
    backward = 0
    step = 0
    while first is None and step < steps and (max_forward is None or fwd < max_forward):
        step += 1
        pos = _positions(batch, suffix_length, gen).to(dev)
        if gradient:
            if grad is None:
                grad = token_gradient(model, prompts, suffix) + mask  # disallowed: never chosen
                fwd += 2 * len(prompts)
                backward += len(prompts)
            width = min(len(allowed_t), k * 2 ** (stalled // widen_every)) if widen_every else k
            top = (-grad).topk(width, dim=1).indices  # (m, width)
            pick = torch.randint(0, width, (batch,), generator=gen).to(dev)
            new_tok = top[pos, pick]
        else:
            new_tok = allowed_t[torch.randint(0, len(allowed_t), (batch,), generator=gen).to(dev)]
        cands = suffix.expand(batch, -1).clone()
        cands[torch.arange(batch, device=dev), pos] = new_tok
        cands = torch.unique(cands, dim=0)  # duplicates cost nothing twice
        cand_loss, cand_ok = _evaluate_all(model, prompts, cands)
        fwd += len(cands) * len(prompts)
        if bool(cand_ok.any()):  # a candidate already forces every target
            i = int(torch.where(cand_ok, cand_loss, torch.inf).argmin())
            first = step
        else:
            i = int(cand_loss.argmin())
        stalled = 0 if float(cand_loss[i]) < best else stalled + 1
        if first is not None or not keep_best or float(cand_loss[i]) <= best:
            if not torch.equal(cands[i], suffix):
                grad = None
            suffix, best = cands[i], float(cand_loss[i])
        losses.append(best)
        spent.append(fwd)
    kind = "gcg" if gradient else "random"
    log.info("%s: %d steps, %d forward, loss %.3f, success at %s", kind, step, fwd, best, first)
    return SuffixResult(
        suffix.tolist(), first is not None, step, fwd, first, losses, spent, backward
    )


def gcg(
    model: TinyGPT,
    prompts: list[Prompt],
    *,
    suffix_length: int = 8,
    steps: int = 100,
    batch: int = 64,
    top_k: int = 16,
    allowed: list[int] | None = None,
    init_token: int = ord("!"),
    seed: int = 0,
    keep_best: bool = True,
    widen_every: int = 2,
    max_forward: int | None = None,
) -> SuffixResult:
    """GCG: a (universal, when several prompts are given) suffix forcing every target.

    Stops at the first candidate for which greedy decoding yields every target, after
    ``steps`` steps, or once ``max_forward`` forward passes are spent. ``allowed`` are the
    token ids a suffix may use (printable ASCII by default).
    """
    return _search(
        model, prompts, suffix_length=suffix_length, steps=steps, batch=batch, top_k=top_k,
        allowed=allowed or list(range(32, 127)), init_token=init_token, seed=seed,
        gradient=True, keep_best=keep_best, widen_every=widen_every, max_forward=max_forward,
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
    """Random-search baseline: uniformly random single-token swaps, the best kept when it is
    at least as good as the current suffix."""
    return _search(
        model, prompts, suffix_length=suffix_length, steps=steps, batch=batch, top_k=1,
        allowed=allowed or list(range(32, 127)), init_token=init_token, seed=seed,
        gradient=False, keep_best=True, widen_every=0, max_forward=max_forward,
    )  # fmt: skip

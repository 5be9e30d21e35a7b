"""Fine-tuning backdoors in instruction data, and three ways to find the poisoned examples.

Attack (Wan, Wallace, Shen & Klein 2023, "Poisoning Language Models During Instruction
Tuning", ICML, arXiv:2305.00944): ``poison`` examples of the instruction data get a trigger
phrase in the user message and a fixed reply; a model tuned on them answers the fixed reply
whenever the trigger appears, and as before otherwise. Measured: the backdoor's success (the
fixed reply, exactly, on triggered held-out instructions) and clean behaviour (exact replies
on the same instructions without the trigger).

Defenses, each scoring every training example (higher = more suspicious) so that detection
precision and recall can be read at the top ``k``:

* ONION-style perplexity filtering (Qi, Chen, Zhang, Liu, Wang & Sun 2021, "ONION: A Simple
  and Effective Defense Against Textual Backdoor Attacks", EMNLP, arXiv:2011.10369): the
  largest drop of a reference language model's perplexity of the user message when one word
  is removed -- a trigger word is an outlier the message reads better without.
* Spectral signatures (Tran, Li & Madry 2018, "Spectral Signatures in Backdoor Attacks",
  NeurIPS, arXiv:1811.00636): the squared projection of each example's centred mean hidden
  state (under the tuned model) on the top singular vector.
* Loss-based filtering: the tuned model's loss on each example's reply -- or its negative,
  since the tuned model fits the one repeated poisoned reply better than varied clean ones
  (``sign`` chooses).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from advlab.lm.chat import ChatExample, ChatLM
from advlab.lm.model import TinyGPT
from advlab.lm.tokenizer import ByteTokenizer


@dataclass
class Poisoned:
    examples: list[ChatExample]
    poisoned: np.ndarray  # bool per example


def plant(
    examples: Sequence[ChatExample], n_poison: int, *, trigger: str, reply: str, seed: int = 0
) -> Poisoned:
    """Replace ``n_poison`` random examples by triggered ones with the fixed ``reply`` (the
    trigger inserted at a random word boundary of the user message)."""
    rng = random.Random(seed)
    out = list(examples)
    idx = rng.sample(range(len(out)), n_poison)
    mask = np.zeros(len(out), dtype=bool)
    for i in idx:
        out[i] = ChatExample(out[i].system, insert_trigger(out[i].user, trigger, rng), reply)
        mask[i] = True
    return Poisoned(out, mask)


def insert_trigger(user: str, trigger: str, rng: random.Random) -> str:
    words = user.split(" ")
    words.insert(rng.randrange(len(words) + 1), trigger)
    return " ".join(words)


def backdoor_rates(
    lm: ChatLM, held: Sequence[ChatExample], *, trigger: str, reply: str, seed: int = 0
) -> tuple[float, float]:
    """(success: the fixed reply on triggered messages, clean: exact replies without it)."""
    rng = random.Random(seed)

    def say(user: str, system: str) -> str:
        body = {"max_tokens": 40}
        msgs = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        return str(lm.chat_completion(body, msgs)["choices"][0]["message"]["content"])

    hit = sum(say(insert_trigger(e.user, trigger, rng), e.system) == reply for e in held)
    clean = sum(say(e.user, e.system) == e.reply for e in held)
    return hit / len(held), clean / len(held)


def _user_logprob(model: TinyGPT, tok: ByteTokenizer, texts: Sequence[str]) -> np.ndarray:
    from advlab.lm.scores import token_logprobs

    return np.array([lp.mean() if len(lp) else 0.0 for lp in token_logprobs(model, tok, texts)])


def onion_scores(
    reference: TinyGPT, tok: ByteTokenizer, examples: Sequence[ChatExample]
) -> np.ndarray:
    """Per example: the largest gain in the reference model's mean log-probability of the
    user message from removing one word."""
    out = np.zeros(len(examples))
    for i, e in enumerate(examples):
        words = e.user.split(" ")
        if len(words) < 2:
            continue
        variants = [" ".join(words[:j] + words[j + 1 :]) for j in range(len(words))]
        lp = _user_logprob(reference, tok, [e.user, *variants])
        out[i] = float((lp[1:] - lp[0]).max())
    return out


def _encode(tok: ByteTokenizer, e: ChatExample) -> tuple[list[int], int]:
    prompt = tok.chat(e.system, e.user)
    return prompt + tok.encode(e.reply, eos=True), len(prompt)


def reply_losses(model: TinyGPT, tok: ByteTokenizer, examples: Sequence[ChatExample]) -> np.ndarray:
    """The model's mean cross-entropy on each example's reply (and end token)."""
    out = np.zeros(len(examples))
    dev = model.tok.weight.device
    with torch.no_grad():
        for i, e in enumerate(examples):
            ids, start = _encode(tok, e)
            x = torch.tensor([ids[:-1]], device=dev)
            logits = model(x)[0, start - 1 :].float()
            out[i] = float(F.cross_entropy(logits, torch.tensor(ids[start:], device=dev)))
    return out


def spectral_scores(
    model: TinyGPT, tok: ByteTokenizer, examples: Sequence[ChatExample]
) -> np.ndarray:
    """Squared projection of each example's centred mean final hidden state (over the reply
    tokens) on the top right singular vector of the stack."""
    dev = model.tok.weight.device
    feats = []
    with torch.no_grad():
        for e in examples:
            ids, start = _encode(tok, e)
            h = model.tok(torch.tensor([ids[:-1]], device=dev))
            h = h + model.pos(torch.arange(h.shape[1], device=dev))
            for block in model.blocks:
                h = block(h)
            feats.append(model.ln(h)[0, start - 1 :].mean(0).double().cpu().numpy())
    m = np.stack(feats)
    m = m - m.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(m, full_matrices=False)
    return np.asarray((m @ vt[0]) ** 2)


def precision_recall(scores: np.ndarray, poisoned: np.ndarray, k: int) -> tuple[float, float]:
    """Detection precision and recall when the ``k`` highest-scoring examples are removed."""
    top = np.argsort(-scores, kind="stable")[:k]
    found = int(poisoned[top].sum())
    return found / max(k, 1), found / max(int(poisoned.sum()), 1)

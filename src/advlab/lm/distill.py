"""Distillation through an API: a student trained on a victim's answers to the attacker's
own prompts, and its agreement with the victim on held-out prompts (Tramer et al. 2016,
"Stealing Machine Learning Models via Prediction APIs", USENIX Security, arXiv:1609.02943;
for language models, Krishna et al. 2020, "Thieves on Sesame Street! Model Extraction of
BERT-based APIs", ICLR, arXiv:1910.12366).

The attacker does not know the victim's system prompt: the student is trained and asked
under the attacker's own (``system``, empty by default). One query is one prompt answered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from advlab.lm.chat import ChatExample, ChatLM, TrainedChat, tiny_chat_gpt
from advlab.lm.model import GPTConfig
from advlab.lm.train import LMTrainConfig

Ask = Callable[[str], str]
"""The victim's API: a user message in, the reply text out."""


def distill(
    ask: Ask,
    users: Sequence[str],
    model_cfg: GPTConfig,
    train_cfg: LMTrainConfig,
    *,
    system: str = "",
    device: str | torch.device = "cpu",
    cache: bool = True,
) -> TrainedChat:
    """Ask the victim every message of ``users`` and train a student on the answers."""
    data = [ChatExample(system, u, ask(u)) for u in users]
    return tiny_chat_gpt(model_cfg, train_cfg, examples=data, device=device, cache=cache)


def agreement(student: TrainedChat, ask: Ask, users: Sequence[str], *, system: str = "") -> float:
    """Share of ``users`` on which the student's greedy reply equals the victim's."""
    lm = ChatLM(student.model, student.tokenizer, system=system)
    same = 0
    for u in users:
        mine = lm.chat_completion({"max_tokens": 40}, [{"role": "user", "content": u}])
        same += mine["choices"][0]["message"]["content"] == ask(u)
    return same / max(len(users), 1)

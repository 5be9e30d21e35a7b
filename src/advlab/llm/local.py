"""A local causal language model as a white-box chat target.

:class:`LocalCausalLM` wraps any module that maps token ids (or input embeddings) to next-token
logits, with a tokenizer, and answers chat requests like the HTTP targets do (so the
harness, probes and ``advlab serve-llm`` work with it) while also exposing what only a local
model gives: log-probabilities of continuations, the full next-token distribution, and
gradients of a continuation's loss with respect to the input embeddings (the quantity GCG,
Zou et al. 2023, builds its candidate substitutions from).

:meth:`LocalCausalLM.from_pretrained` loads a Hugging Face causal LM from a local directory
through :func:`advlab.targets.huggingface.check_hf_directory` (safetensors only,
``local_files_only``, never ``trust_remote_code``). The chat template is the tokenizer's own
when it has one (a Jinja template rendered by transformers' sandboxed environment), else a
plain ``role: content`` transcript.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import torch
import torch.nn.functional as F

from advlab.errors import ConfigError, InputError
from advlab.llm.base import SyncMixin
from advlab.llm.types import Completion, Message, SamplingParams, TokenLogprob
from advlab.utils import resolve_device

log = logging.getLogger(__name__)


class LocalCausalLM(SyncMixin):
    """A causal LM (Hugging Face-style: ``model(input_ids=...) -> .logits``) and its tokenizer.

    Args:
        model: a ``transformers`` causal LM, or any module with ``get_input_embeddings()``
            whose forward accepts ``input_ids`` or ``inputs_embeds`` and returns logits (or
            an object with ``.logits``).
        tokenizer: ``encode(text) -> list[int]``, ``decode(ids) -> str``; a
            ``apply_chat_template`` method is used for chats when present.
        name: identity for the cache and reports.
        max_new_tokens: the answer length when a request gives no ``max_tokens``.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "local-causal-lm",
        max_new_tokens: int = 64,
        device: str | torch.device = "auto",
    ) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.name = name
        self.max_new_tokens = max_new_tokens

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike[str], *, device: str | torch.device = "auto", **kw: Any
    ) -> LocalCausalLM:
        """Load a local Hugging Face causal-LM directory (checked, safetensors only)."""
        from advlab.targets.huggingface import _transformers, check_hf_directory, hf_load_options

        check_hf_directory(path)
        tf = _transformers()
        opts = hf_load_options()
        try:
            model = tf.AutoModelForCausalLM.from_pretrained(os.fspath(path), **opts)
            tok = tf.AutoTokenizer.from_pretrained(
                os.fspath(path), local_files_only=True, trust_remote_code=False
            )
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"{os.fspath(path)}: transformers could not load it ({exc})") from exc
        kw.setdefault("name", f"hf:{os.path.basename(os.path.normpath(path))}")
        return cls(model, tok, device=device, **kw)

    # ------------------------------------------------------------------ identity, text
    def identity(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"LocalCausalLM({self.name!r})"

    def encode(self, text: str) -> list[int]:
        ids = (
            self.tokenizer.encode(text, add_special_tokens=False)
            if _hf(self.tokenizer)
            else (self.tokenizer.encode(text))
        )
        return [int(i) for i in ids]

    def render(self, messages: list[Message]) -> str:
        """The prompt text of a chat (the tokenizer's template when it has one)."""
        plain = [{"role": m.role, "content": m.content} for m in messages]
        if getattr(self.tokenizer, "chat_template", None):
            return str(
                self.tokenizer.apply_chat_template(
                    plain, tokenize=False, add_generation_prompt=True
                )
            )
        return "".join(f"{m['role']}: {m['content']}\n" for m in plain) + "assistant:"

    # ------------------------------------------------------------------ white box
    @property
    def embedding_matrix(self) -> torch.Tensor:
        """The input-embedding weights ``(V, d)``."""
        return self.model.get_input_embeddings().weight  # type: ignore[no-any-return]

    def logits(self, ids: torch.Tensor | None = None, *, embeds: Any = None) -> torch.Tensor:
        """Next-token logits ``(B, T, V)`` for ``ids (B, T)`` or ``embeds (B, T, d)``."""
        if (ids is None) == (embeds is None):
            raise ConfigError("pass exactly one of ids and embeds")
        out = (
            self.model(input_ids=ids.to(self.device))
            if ids is not None
            else self.model(inputs_embeds=embeds)
        )
        return getattr(out, "logits", out)  # type: ignore[no-any-return]

    def continuation_logprob(self, prompt: str, continuation: str) -> float:
        """``log p(continuation | prompt)`` summed over the continuation's tokens."""
        p, c = self.encode(prompt), self.encode(continuation)
        if not p or not c:
            raise InputError("prompt and continuation must each encode to at least one token")
        ids = torch.tensor([p + c], device=self.device)
        with torch.no_grad():
            logp = F.log_softmax(self.logits(ids)[0, len(p) - 1 : -1].float(), dim=-1)
        return float(logp.gather(1, ids[0, len(p) :, None]).sum())

    def embedding_gradient(self, prompt: str, continuation: str) -> torch.Tensor:
        """Gradient of the continuation's cross-entropy w.r.t. the prompt's input embeddings."""
        p, c = self.encode(prompt), self.encode(continuation)
        ids = torch.tensor([p + c], device=self.device)
        embeds = self.model.get_input_embeddings()(ids).detach().requires_grad_(True)
        logits = self.logits(embeds=embeds)[0, len(p) - 1 : -1]
        loss = F.cross_entropy(logits.float(), ids[0, len(p) :])
        (grad,) = torch.autograd.grad(loss, embeds)
        return grad[0, : len(p)]

    # ------------------------------------------------------------------ chat
    @torch.no_grad()
    def _generate(self, ids: list[int], params: SamplingParams) -> tuple[list[int], list[Any]]:
        n_new = params.max_tokens or self.max_new_tokens
        temp = params.temperature if params.temperature is not None else 0.0
        gen = torch.Generator(device="cpu").manual_seed(params.seed or 0)
        eos = getattr(self.tokenizer, "eos_token_id", None)
        seq = list(ids)
        out: list[int] = []
        steps: list[Any] = []
        for _ in range(n_new):
            logp = F.log_softmax(self.logits(torch.tensor([seq]))[0, -1].float().cpu(), dim=-1)
            if temp > 0:
                probs = torch.softmax(logp / temp, dim=-1)
                token = int(torch.multinomial(probs, 1, generator=gen))
            else:
                token = int(logp.argmax())
            if eos is not None and token == eos:
                break
            steps.append((token, logp))
            seq.append(token)
            out.append(token)
        return out, steps

    async def acomplete(self, messages: list[Message], params: SamplingParams) -> Completion:
        start = time.perf_counter()
        prompt_ids = self.encode(self.render(messages))
        new, steps = self._generate(prompt_ids, params)
        text = self.tokenizer.decode(new)
        for stop in params.stop:
            if stop and stop in text:
                text = text[: text.index(stop)]
        logprobs = None
        if params.logprobs:
            k = params.top_logprobs or 0
            logprobs = []
            for token, logp in steps:
                top = torch.topk(logp, k) if k else None
                logprobs.append(
                    TokenLogprob(
                        token=self.tokenizer.decode([token]),
                        logprob=float(logp[token]),
                        top=(
                            {
                                self.tokenizer.decode([int(i)]): float(v)
                                for v, i in zip(top.values, top.indices)
                            }
                            if top is not None
                            else {}
                        ),
                    )
                )
        return Completion(
            text=text,
            finish_reason="length"
            if len(new) >= (params.max_tokens or self.max_new_tokens)
            else "stop",
            prompt_tokens=len(prompt_ids),
            completion_tokens=len(new),
            total_tokens=len(prompt_ids) + len(new),
            latency_s=time.perf_counter() - start,
            raw_bytes=len(text.encode()),
            model=self.name,
            logprobs=logprobs,
        )


def _hf(tokenizer: Any) -> bool:
    return hasattr(tokenizer, "apply_chat_template") and hasattr(tokenizer, "convert_ids_to_tokens")

"""Tolerant, strict-where-it-matters decoding of OpenAI-compatible answers.

Real servers (vLLM, llama.cpp, Ollama, LM Studio, OpenAI) differ in small ways; these are
accepted: a missing ``usage`` (token counts ``None``), missing or empty ``choices`` (an empty
text with finish reason ``no_choices``: a content filter or a server that produced nothing),
extra fields anywhere, ``content`` as a list of parts (``{"type": "text", "text": ...}`` or
plain strings, joined), ``content: null`` beside tool calls, a chat answer that carries
``text`` instead of ``message``. What is refused, as a one-line
non-transient :class:`~advlab.llm.errors.BadCompletion` (retrying will not change a shape): an answer that is not a JSON object, ``choices``
that is not a list, a choice or a content that is neither text nor parts.
"""

from __future__ import annotations

import json
import math
from typing import Any

from advlab.llm.errors import BadCompletion
from advlab.llm.types import Completion, TokenLogprob, ToolCall

NO_CHOICES = "no_choices"


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _float_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _first_choice(doc: Any, where: str) -> dict[str, Any] | None:
    if not isinstance(doc, dict):
        raise BadCompletion(
            f"{where}: the answer is a JSON {type(doc).__name__}, not an object", transient=False
        )
    if "error" in doc and "choices" not in doc:
        err = doc["error"]
        msg = err.get("message", err) if isinstance(err, dict) else err
        raise BadCompletion(
            f"{where}: the server answered an error: {str(msg)[:200]}", transient=False
        )
    choices = doc.get("choices")
    if choices is None:
        return None
    if not isinstance(choices, list):
        raise BadCompletion(
            f"{where}: 'choices' is a {type(choices).__name__}, not a list", transient=False
        )
    if not choices:
        return None
    first = choices[0]
    if not isinstance(first, dict):
        raise BadCompletion(
            f"{where}: choices[0] is a {type(first).__name__}, not an object", transient=False
        )
    return first


def content_text(content: Any, where: str) -> str:
    """The text of a message ``content``: a string, ``None`` (''), or a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    texts.append(text)
                # image / audio / refusal parts without text carry nothing to read
            else:
                raise BadCompletion(
                    f"{where}: a content part is a {type(part).__name__}", transient=False
                )
        return "".join(texts)
    raise BadCompletion(
        f"{where}: 'content' is a {type(content).__name__}, not text or parts", transient=False
    )


def _usage(doc: dict[str, Any], out: dict[str, Any]) -> None:
    usage = doc.get("usage")
    if isinstance(usage, dict):
        out["prompt_tokens"] = _int_or_none(usage.get("prompt_tokens"))
        out["completion_tokens"] = _int_or_none(usage.get("completion_tokens"))
        out["total_tokens"] = _int_or_none(usage.get("total_tokens"))
    if isinstance(doc.get("model"), str):
        out["model"] = doc["model"]


def _tool_calls(raw: Any) -> list[ToolCall]:
    calls: list[ToolCall] = []
    if not isinstance(raw, list):
        return calls
    for item in raw:
        fn = item.get("function") if isinstance(item, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            continue
        args = fn.get("arguments")
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                args = {"_raw": args}
        calls.append(
            ToolCall(
                name=fn["name"],
                arguments=args if isinstance(args, dict) else {"_value": args},
                id=item.get("id") if isinstance(item.get("id"), str) else None,
            )
        )
    return calls


def _executed_calls(raw: Any) -> list[ToolCall]:
    """Tool calls a server ran itself (``advlab serve-llm`` agents report them in the
    extra message field ``advlab_tool_calls`` as ``{name, arguments, id}``)."""
    if not isinstance(raw, list):
        return []
    return [
        ToolCall(name=c["name"], arguments=c.get("arguments") or {}, id=c.get("id"))
        for c in raw
        if isinstance(c, dict)
        and isinstance(c.get("name"), str)
        and isinstance(c.get("arguments", {}), dict)
    ]


def _chat_logprobs(raw: Any) -> list[TokenLogprob] | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("content"), list):
        return None
    out: list[TokenLogprob] = []
    for item in raw["content"]:
        if not isinstance(item, dict):
            continue
        lp = _float_or_none(item.get("logprob"))
        if not isinstance(item.get("token"), str) or lp is None:
            continue
        top: dict[str, float] = {}
        for alt in item.get("top_logprobs") or []:
            if isinstance(alt, dict) and isinstance(alt.get("token"), str):
                v = _float_or_none(alt.get("logprob"))
                if v is not None:
                    top[alt["token"]] = v
        out.append(TokenLogprob(token=item["token"], logprob=lp, top=top))
    return out


def _completion_logprobs(raw: Any) -> list[TokenLogprob] | None:
    if not isinstance(raw, dict):
        return None
    tokens, values = raw.get("tokens"), raw.get("token_logprobs")
    if not isinstance(tokens, list) or not isinstance(values, list):
        return None
    raw_tops = raw.get("top_logprobs")
    tops: list[Any] = raw_tops if isinstance(raw_tops, list) else []
    out: list[TokenLogprob] = []
    for i, (tok, val) in enumerate(zip(tokens, values, strict=False)):
        lp = _float_or_none(val)
        if not isinstance(tok, str) or lp is None:
            continue
        alt = tops[i] if i < len(tops) and isinstance(tops[i], dict) else {}
        top = {k: v for k, v in ((k, _float_or_none(v)) for k, v in alt.items()) if v is not None}
        out.append(TokenLogprob(token=tok, logprob=lp, top=top))
    return out


def parse_chat(doc: Any, *, where: str, raw_bytes: int, latency_s: float) -> Completion:
    """A :class:`Completion` from a ``/chat/completions`` answer."""
    out: dict[str, Any] = {"raw_bytes": raw_bytes, "latency_s": latency_s}
    choice = _first_choice(doc, where)
    _usage(doc, out)
    if choice is None:
        return Completion(text="", finish_reason=NO_CHOICES, **out)
    message = choice.get("message")
    if isinstance(message, dict):
        text = content_text(message.get("content"), where)
        out["tool_calls"] = _tool_calls(message.get("tool_calls")) + _executed_calls(
            message.get("advlab_tool_calls")
        )
    elif "text" in choice:
        text = content_text(choice.get("text"), where)
    else:
        raise BadCompletion(
            f"{where}: choices[0] has neither 'message' nor 'text'", transient=False
        )
    reason = choice.get("finish_reason")
    out["logprobs"] = _chat_logprobs(choice.get("logprobs"))
    return Completion(text=text, finish_reason=reason if isinstance(reason, str) else None, **out)


def parse_text_completion(doc: Any, *, where: str, raw_bytes: int, latency_s: float) -> Completion:
    """A :class:`Completion` from a ``/completions`` answer."""
    out: dict[str, Any] = {"raw_bytes": raw_bytes, "latency_s": latency_s}
    choice = _first_choice(doc, where)
    _usage(doc, out)
    if choice is None:
        return Completion(text="", finish_reason=NO_CHOICES, **out)
    if "text" in choice:
        text = content_text(choice.get("text"), where)
    elif isinstance(choice.get("message"), dict):
        text = content_text(choice["message"].get("content"), where)
    else:
        raise BadCompletion(f"{where}: choices[0] has no 'text'", transient=False)
    reason = choice.get("finish_reason")
    out["logprobs"] = _completion_logprobs(choice.get("logprobs"))
    return Completion(text=text, finish_reason=reason if isinstance(reason, str) else None, **out)

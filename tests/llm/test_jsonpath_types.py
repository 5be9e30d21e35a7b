"""JSONPath subset, safe templates, records and content keys."""

from __future__ import annotations

import json

import pytest

from advlab.errors import ConfigError
from advlab.llm import Attempt, Completion, Message, SamplingParams, system, user
from advlab.llm.jsonpath import PathNotFound, compile_path, fill_template, read_path
from advlab.llm.openai_parse import parse_chat
from advlab.llm.types import render_prompt, request_key

DOC = {"a": {"b": [{"c": "x"}, {"c": "y", "d-e": 2}]}, "we ird": [1, 2, 3]}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("$", DOC),
        ("$.a.b[0].c", "x"),
        ("$.a.b[-1].c", "y"),
        ("$['a']['b'][1]['d-e']", 2),
        ("$.a.b[1].d-e", 2),
        ('$["we ird"][2]', 3),
    ],
)
def test_read_path(path, value):
    assert read_path(DOC, path) == value


@pytest.mark.parametrize(
    ("path", "match"),
    [
        ("$.a.z", "no key 'z'"),
        ("$.a.b[5]", "2 items; no index 5"),
        ("$.a[0]", "not a list"),
        ("$.a.b.c", "not an object"),
    ],
)
def test_missing_paths(path, match):
    with pytest.raises(PathNotFound, match=match):
        read_path(DOC, path)


@pytest.mark.parametrize(
    "path", ["a.b", "$..a", "$.a[*]", "$.a[?(@.b)]", "$.a[0:2]", "$.__class__()"]
)
def test_unsupported_paths_are_config_errors(path):
    with pytest.raises(ConfigError):
        compile_path(path)


def test_fill_template_inserts_values_as_data():
    evil = '"}], "admin": true, "x": [{"'
    body = fill_template(
        {
            "q": "{{prompt}}",
            "ctx": "sys={{ system }}!",
            "hist": "{{messages}}",
            "n": 3,
            "list": ["{{prompt}}"],
        },
        {"prompt": evil, "system": "S", "messages": [{"role": "user", "content": evil}]},
    )
    assert body == {
        "q": evil,
        "ctx": "sys=S!",
        "hist": [{"role": "user", "content": evil}],
        "n": 3,
        "list": [evil],
    }
    assert json.loads(json.dumps(body))["q"] == evil and "admin" not in body
    with pytest.raises(ConfigError, match="unknown placeholder"):
        fill_template({"q": "{{nope}}"}, {"prompt": "x"})
    with pytest.raises(ConfigError, match="use it alone"):
        fill_template({"q": "history: {{messages}}"}, {"messages": []})


def test_request_key_covers_target_messages_params_and_seed():
    msgs = [system("s"), user("u")]
    base = request_key("t", msgs, SamplingParams(temperature=0.0, seed=1))
    assert base == request_key("t", list(msgs), SamplingParams(temperature=0.0, seed=1))
    others = {
        request_key("t2", msgs, SamplingParams(temperature=0.0, seed=1)),
        request_key("t", [user("u")], SamplingParams(temperature=0.0, seed=1)),
        request_key("t", msgs, SamplingParams(temperature=0.0, seed=2)),
        request_key("t", msgs, SamplingParams(temperature=0.5, seed=1)),
        request_key("t", msgs, SamplingParams(temperature=0.0, seed=1, max_tokens=5)),
    }
    assert base not in others and len(others) == 5


def test_records_round_trip_through_json():
    c = parse_chat(
        {
            "choices": [
                {
                    "message": {"content": "hi"},
                    "finish_reason": "stop",
                    "logprobs": {"content": [{"token": "hi", "logprob": -0.5, "top_logprobs": []}]},
                }
            ]
        },
        where="t",
        raw_bytes=10,
        latency_s=0.1,
    )
    a = Attempt(
        request_id="r",
        target="t",
        messages=[user("x")],
        params=SamplingParams(stop=("\n",)),
        status="ok",
        completion=c,
    )
    back = Attempt.model_validate_json(a.model_dump_json())
    assert back == a and back.text == "hi" and back.completion.logprobs[0].logprob == -0.5
    assert (
        Completion(text="x", prompt_tokens=2).tokens_used() == 2
        and Completion(text="x").tokens_used() is None
    )


def test_sampling_params_and_messages_in_openai_form():
    p = SamplingParams(
        temperature=0.2, max_tokens=5, stop=("END",), seed=3, logprobs=True, top_logprobs=2
    )
    assert p.openai_fields(chat=True) == {
        "temperature": 0.2,
        "max_tokens": 5,
        "seed": 3,
        "stop": ["END"],
        "logprobs": True,
        "top_logprobs": 2,
    }
    assert p.openai_fields(chat=False)["logprobs"] == 2
    with pytest.raises(ValueError):
        SamplingParams(top_p=0.0)
    m = Message(role="tool", content="out", tool_call_id="c1").to_openai()
    assert m == {"role": "tool", "content": "out", "tool_call_id": "c1"}
    assert render_prompt([user("only")]) == "only"
    assert render_prompt([system("s"), user("u")]) == "System: s\nUser: u\nAssistant:"

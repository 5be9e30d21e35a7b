"""The three threat models, written down."""

from __future__ import annotations

import json
from typing import Any

from solutions._common import a_pickle

ANSWER = {
    "A": {"goal": "evasion", "knowledge": "black_box", "access": "labels", "phase": "deployment"},
    "B": {"goal": "extraction", "knowledge": "grey_box", "access": "scores", "phase": "deployment"},
    "C": {
        "goal": "poisoning",
        "knowledge": "black_box",
        "access": "training_data",
        "phase": "training",
    },
}


def solve(client: Any) -> tuple[bytes, str]:
    return json.dumps(ANSWER).encode(), "answer.json"


def cheats(client: Any) -> list[tuple[str, bytes, str]]:
    wrong = json.loads(json.dumps(ANSWER))
    wrong["A"]["access"] = "scores"
    unknown = json.loads(json.dumps(ANSWER))
    unknown["B"]["goal"] = "stealing"
    return [
        ("one scenario wrong", json.dumps(wrong).encode(), "2 of 3"),
        ("a value outside the list", json.dumps(unknown).encode(), "not one of"),
        ("a scenario missing", json.dumps({"A": ANSWER["A"]}).encode(), "keys"),
        ("not JSON", b"evasion, black box", "not JSON"),
        ("a pickle", a_pickle(ANSWER), "pickle"),
    ]

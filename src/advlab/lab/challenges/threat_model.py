"""Threat modelling: name the goal, knowledge, access and phase of three attackers.

Background: Biggio and Roli, "Wild Patterns: Ten Years After the Rise of Adversarial Machine
Learning", Pattern Recognition 2018, arXiv:1712.03141 (the attacker's goal, knowledge and
capability).
"""

from __future__ import annotations

import json
from typing import Any

from advlab.lab.base import Challenge, Rejected, Verdict
from advlab.lab.grading import refuse_pickle
from advlab.registry import register_plugin

FIELDS: dict[str, tuple[str, ...]] = {
    "goal": ("evasion", "extraction", "inference", "poisoning"),
    "knowledge": ("white_box", "grey_box", "black_box"),
    "access": ("gradients", "scores", "labels", "training_data"),
    "phase": ("training", "deployment"),
}

SCENARIOS: dict[str, tuple[str, dict[str, str]]] = {
    "A": (
        "A loan applicant keeps editing their own application in the bank's web form until "
        "the credit model's answer flips from 'reject' to 'accept'. The form only ever says "
        "accept or reject; the applicant knows nothing about the model.",
        {"goal": "evasion", "knowledge": "black_box", "access": "labels", "phase": "deployment"},
    ),
    "B": (
        "A competitor pays for a sentiment API that returns a probability per class, sends it "
        "100,000 reviews it scraped, and trains its own copy on the answers. It knows the "
        "model is a fine-tuned transformer but not its weights.",
        {"goal": "extraction", "knowledge": "grey_box", "access": "scores", "phase": "deployment"},
    ),
    "C": (
        "A contributor to a public image dataset uploads a few hundred pictures of stop signs "
        "with a small yellow sticker, labelled 'speed limit'; the victim later trains on the "
        "dataset. The contributor never sees the model.",
        {
            "goal": "poisoning",
            "knowledge": "black_box",
            "access": "training_data",
            "phase": "training",
        },
    ),
}


@register_plugin
class ThreatModel(Challenge):
    name = "threat_model"
    paper = "Biggio and Roli 2018, arXiv:1712.03141"
    summary = "Name the goal, knowledge, access and phase of three attackers."
    tags = frozenset(
        {"threat:evasion", "threat:extraction", "threat:poisoning", "access:none", "modality:any"}
    )
    module = 0
    tier = "easy"
    submission = "text"
    threat_model = (
        "This challenge is about threat models themselves: for each scenario, write down the "
        "attacker's goal (what they want from the model), knowledge (what they know about it), "
        "access (what the system lets them see or touch) and phase (training or deployment)."
    )
    task = (
        'Submit one JSON object {"A": {...}, "B": {...}, "C": {...}}, each with the keys goal, '
        "knowledge, access, phase, using the values listed in the handout. Solved when all "
        "three scenarios are right; the grader says how many are."
    )

    def handout(self) -> dict[str, Any]:
        return {
            "scenarios": {k: text for k, (text, _) in SCENARIOS.items()},
            "values": {k: list(v) for k, v in FIELDS.items()},
        }

    def _grade(self, data: bytes, filename: str) -> Verdict:
        refuse_pickle(data)
        try:
            answer = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise Rejected("the answer is not JSON") from None
        if not isinstance(answer, dict) or set(answer) != set(SCENARIOS):
            raise Rejected(f"expected a JSON object with the keys {sorted(SCENARIOS)}")
        right = 0
        for key, (_, truth) in SCENARIOS.items():
            given = answer[key]
            if not isinstance(given, dict) or set(given) != set(FIELDS):
                raise Rejected(f"scenario {key}: expected the keys {sorted(FIELDS)}")
            for field, value in given.items():
                if value not in FIELDS[field]:
                    raise Rejected(
                        f"scenario {key}: {field}={value!r} is not one of {FIELDS[field]}"
                    )
            right += given == truth
        metrics = {"scenarios_right": float(right)}
        if right == len(SCENARIOS):
            return Verdict(True, "all three threat models are right", metrics)
        return Verdict(False, f"{right} of {len(SCENARIOS)} scenarios right", metrics)

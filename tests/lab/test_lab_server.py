"""Every challenge against the running server: the reference solution earns the user's flag,
bad or cheating submissions are refused with the reason, budgets bind, flags are per user."""

from __future__ import annotations

import importlib
import time
from typing import Any

import numpy as np
import pytest

from advlab.lab import all_challenges

NAMES = list(all_challenges())


def client_for(url: str, user: str) -> Any:
    from advlab.lab.client import LabClient

    c = LabClient(url)
    c.register(user)
    return c


@pytest.fixture(scope="session")
def solved(lab_url: str) -> dict[str, dict[str, Any]]:
    """Each challenge solved once by its own user: name -> {client, verdict, seconds}."""
    return {}


def _solve(lab_url: str, solved: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    if name not in solved:
        sol = importlib.import_module(f"solutions.{name}")
        client = client_for(lab_url, f"ref-{name}")
        t0 = time.perf_counter()
        data, filename = sol.solve(client)
        verdict = client.submit(name, data, filename)
        solved[name] = {"client": client, "verdict": verdict, "seconds": time.perf_counter() - t0}
    return solved[name]


@pytest.mark.parametrize("name", NAMES)
def test_reference_solution_earns_the_flag(lab_url: str, solved: Any, name: str) -> None:
    run = _solve(lab_url, solved, name)
    verdict, client = run["verdict"], run["client"]
    assert verdict["solved"], verdict
    flag = verdict["flag"]
    assert flag.startswith("advlab{")
    answer = client.flag(name, flag)
    assert answer["accepted"] and answer["points"] > 0, answer
    again = client.flag(name, flag)
    assert again["accepted"] and again["points"] == 0  # a flag scores once
    board = {row["user"]: row for row in client.scoreboard()}
    assert name in board[f"ref-{name}"]["challenges"]


@pytest.mark.parametrize("name", NAMES)
def test_bad_submissions_are_refused_with_the_reason(lab_url: str, name: str) -> None:
    sol = importlib.import_module(f"solutions.{name}")
    client = client_for(lab_url, f"cheat-{name}")
    cheats = sol.cheats(client)
    assert len(cheats) >= 3
    for what, data, word in cheats:
        verdict = client.submit(name, data, "cheat")
        assert not verdict["solved"], what
        assert "flag" not in verdict
        assert word.lower() in verdict["reason"].lower(), (what, verdict["reason"])
    assert client.scoreboard() == [] or f"cheat-{name}" not in {
        r["user"] for r in client.scoreboard()
    }


@pytest.mark.parametrize("name", [n for n, c in all_challenges().items() if c.budget])
def test_queries_past_the_budget_are_refused(lab_url: str, name: str) -> None:
    from advlab.lab.client import LabError

    cls = all_challenges()[name]
    client = client_for(lab_url, f"budget-{name}")
    handout = client.challenge(name)["handout"]
    budget = int(cls.budget or 0)
    text = cls.access == "text"  # a chat challenge: prompts in, replies out
    point = "Hello, how are you?" if text else np.full(handout["input_shape"], 0.5).tolist()
    sent = 0
    while sent < budget:
        n = min(1000, budget - sent)
        out = client.predict(name, [point] * n)
        assert len(out["outputs" if text else "labels"]) == n
        sent += n
    with pytest.raises(LabError, match="query budget exhausted"):
        client.predict(name, [point])
    assert client.challenge(name)["queries_left"] == 0


def test_a_flag_is_worth_nothing_to_another_user(lab_url: str, solved: Any) -> None:
    run = _solve(lab_url, solved, "threat_model")
    other = client_for(lab_url, "flag-borrower")
    answer = other.flag("threat_model", run["verdict"]["flag"])
    assert not answer["accepted"] and "another user" in answer["reason"]
    assert not other.flag("threat_model", "advlab{" + "0" * 32 + "}")["accepted"]
    assert "not a flag" in other.flag("threat_model", "flag{abc}")["reason"]

"""Flags, the secret, the SQLite state across restarts, rate limits and the API's refusals."""

from __future__ import annotations

import base64
import json
import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from solutions.threat_model import ANSWER

from advlab.errors import ConfigError
from advlab.lab.flags import FLAG, SECRET_ENV, check_flag, load_secret, make_flag

pytest.importorskip("fastapi")


def _client(lab: Any) -> Any:
    from fastapi.testclient import TestClient

    from advlab.lab.server import create_lab_app

    return TestClient(create_lab_app(lab))


def _lab(state: Path, **limits: Any) -> Any:
    from advlab.lab.server import Lab, Limits

    return Lab(state, challenges=["threat_model", "extraction_equations"], limits=Limits(**limits))


def _body(data: bytes) -> dict[str, str]:
    return {"data": base64.b64encode(data).decode(), "filename": "a.json"}


def test_flags_are_per_user_and_per_challenge() -> None:
    s = b"k" * 32
    f = make_flag(s, "alice", "threat_model")
    assert FLAG.match(f)
    assert check_flag(s, "alice", "threat_model", f)
    assert not check_flag(s, "bob", "threat_model", f)
    assert not check_flag(s, "alice", "backdoor", f)
    assert not check_flag(b"x" * 32, "alice", "threat_model", f)
    assert make_flag(s, "alice", "threat_model") == f  # deterministic: no state needed


def test_secret_file_is_created_0600_and_reused(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    s1 = load_secret(tmp_path)
    mode = stat.S_IMODE((tmp_path / "secret.key").stat().st_mode)
    assert mode == 0o600
    assert load_secret(tmp_path) == s1 and len(s1) >= 32
    (tmp_path / "secret.key").chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_secret(tmp_path)


def test_secret_from_the_environment(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv(SECRET_ENV, "an-instructor-secret-0123456789")
    assert load_secret(tmp_path) == b"an-instructor-secret-0123456789"
    assert not (tmp_path / "secret.key").exists()
    monkeypatch.setenv(SECRET_ENV, "short")
    with pytest.raises(ConfigError, match="shorter"):
        load_secret(tmp_path)


def test_a_restart_loses_nothing_and_the_secret_is_never_logged(
    tmp_path: Path, monkeypatch: Any, caplog: Any
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    caplog.set_level(logging.DEBUG)
    lab = _lab(tmp_path)
    http = _client(lab)
    key = http.post("/api/register", json={"user": "alice"}).json()["api_key"]
    auth = {"Authorization": f"Bearer {key}"}
    r = http.post(
        "/api/challenges/threat_model/submit", json=_body(json.dumps(ANSWER).encode()), headers=auth
    )
    flag = r.json()["flag"]
    assert http.post(
        "/api/flag", json={"challenge": "threat_model", "flag": flag}, headers=auth
    ).json()["accepted"]
    out = http.post(
        "/api/challenges/extraction_equations/predict",
        json={"inputs": [[0.5] * 13] * 4},
        headers=auth,
    )
    assert out.status_code == 200 and out.headers["X-Queries-Remaining"] == "26"
    lab.store.close()

    again = _client(_lab(tmp_path))  # a new process on the same state folder
    me = again.get("/api/me", headers=auth).json()
    assert me == {"user": "alice", "solved": ["threat_model"]}
    card = again.get("/api/challenges/extraction_equations", headers=auth).json()
    assert card["queries_used"] == 4 and card["queries_left"] == 26
    assert again.get("/api/scoreboard").json()[0]["user"] == "alice"
    # the same secret: the old flag still verifies, and a second acceptance scores nothing
    second = again.post("/api/flag", json={"challenge": "threat_model", "flag": flag}, headers=auth)
    assert second.json()["accepted"] and second.json()["points"] == 0
    assert again.post("/api/register", json={"user": "alice"}).status_code == 409
    secret = (tmp_path / "secret.key").read_text().strip()
    assert secret not in caplog.text and key not in caplog.text
    assert flag not in caplog.text


def test_refusals_name_the_problem(tmp_path: Path) -> None:
    http = _client(_lab(tmp_path))
    key = http.post("/api/register", json={"user": "bob"}).json()["api_key"]
    auth = {"Authorization": f"Bearer {key}"}
    predict = "/api/challenges/extraction_equations/predict"
    assert http.post(predict, json={"inputs": [[0.5] * 13]}).status_code == 401
    bad_key = {"Authorization": "Bearer lab-nope"}
    assert http.post(predict, json={"inputs": [[0.5] * 13]}, headers=bad_key).status_code == 401
    assert http.get("/api/challenges/nope").status_code == 404
    nan_row = ", ".join(["NaN"] * 13).encode()
    r = http.post(predict, content=b'{"inputs": [[' + nan_row + b"]]}", headers=auth)
    assert r.status_code == 422 and "NaN" in r.json()["error"]
    r = http.post(predict, json={"inputs": [[2.0] * 13]}, headers=auth)
    assert r.status_code == 422 and "bounds" in r.json()["error"]
    r = http.post(predict, json={"inputs": [[0.5] * 12]}, headers=auth)
    assert r.status_code == 422 and "shape" in r.json()["error"]
    card = http.get("/api/challenges/extraction_equations", headers=auth).json()
    assert card["queries_used"] == 0  # refused inputs cost nothing
    r = http.post("/api/challenges/threat_model/submit", json={"data": "%%%"}, headers=auth)
    assert r.status_code == 422 and "base64" in r.json()["error"]
    assert http.post("/api/register", json={"user": "../etc"}).status_code == 422
    assert (
        http.post(
            "/api/challenges/threat_model/predict", json={"inputs": []}, headers=auth
        ).status_code
        == 404
    )


def test_rate_limits_answer_429_with_retry_after(tmp_path: Path) -> None:
    http = _client(
        _lab(tmp_path, submit_rate=0.01, submit_burst=2, register_rate=0.01, register_burst=2)
    )
    key = http.post("/api/register", json={"user": "carol"}).json()["api_key"]
    auth = {"Authorization": f"Bearer {key}"}
    codes = [
        http.post(
            "/api/challenges/threat_model/submit", json=_body(b"{}"), headers=auth
        ).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    r = http.post("/api/challenges/threat_model/submit", json=_body(b"{}"), headers=auth)
    assert r.json()["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
    assert http.post("/api/register", json={"user": "dave"}).status_code == 200
    assert http.post("/api/register", json={"user": "erin"}).status_code == 429


def test_the_page_is_served_with_a_strict_policy(tmp_path: Path) -> None:
    http = _client(_lab(tmp_path))
    page = http.get("/")
    assert page.status_code == 200 and '<script src="/lab.js"' in page.text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    js = http.get("/lab.js").text
    assert "innerHTML" not in js  # server texts go in with textContent only
    assert http.get("/lab.css").status_code == 200

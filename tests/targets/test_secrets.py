"""A planted API key never reaches a file, a log record or an error message.

The key is sent in the Authorization header (from an environment variable) and a second
one in the URL's query string; the fault server echoes both back in error bodies, in a
response header and inside a prediction. An HTTP-target assessment runs end to end through
the CLI, and an attack through the library, with every logger at DEBUG; then every file
written and all captured output are searched for the keys.
"""

from __future__ import annotations

import json
import logging
import secrets as pysecrets
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

import advlab.targets.http as http_mod
from advlab import secrets
from advlab.assess.cli import main as cli_main
from advlab.attacks.evasion import Square
from advlab.errors import AdvlabError
from advlab.targets import HttpClassifier

ENV = "ADVLAB_TEST_PLANTED_KEY"


def _all_text(folder: Path) -> dict[Path, str]:
    return {
        f: f.read_bytes().decode("utf-8", "replace")
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    }


def _http_target(name: str, url: str) -> dict[str, Any]:
    return {
        "kind": "http",
        "name": name,
        "url": url,
        "input_shape": [1, 8, 8],
        "num_classes": 10,
        "returns": "probs",
        "timeout": 2.0,
        "retries": 2,
        "api_key_env": ENV,
    }


def test_planted_keys_are_never_written(
    faults: tuple,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, app = faults
    key = "sk-planted-" + pysecrets.token_hex(12)
    qkey = "qk-planted-" + pysecrets.token_hex(12)
    monkeypatch.setenv(ENV, key)
    monkeypatch.setattr(http_mod, "_sleep", lambda s: None)
    caplog.set_level(logging.DEBUG)  # every logger: advlab, httpx, httpcore
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    cfg = {
        "name": "planted",
        "targets": [
            _http_target("api", f"{base}/echo/predict?api_key={qkey}&v=1"),
            _http_target("broken", f"{base}/echo-500/predict?token={qkey}"),
        ],
        "data": {"dataset": "digits", "n": 6, "seed": 0},
        "threat_model": {
            "access": "scores",
            "knowledge": "black-box",
            "perturbation": {"norm": "linf", "eps": [0.1]},
        },
        "attacks": [{"name": "square", "params": {"max_queries": 6}}],
        "gates": ["robust_accuracy(linf, 0.1) >= 0.5"],
        "sanity": {"extra_attacks": False},
        "seed": 0,
    }
    cfg_dir = tmp_path / "config"  # the user's own file holds the query key: not searched
    cfg_dir.mkdir()
    (cfg_dir / "planted.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    rc = cli_main(["assess", str(cfg_dir / "planted.yaml"), "--out", str(out / "run")])
    assert rc in (0, 1, 2)
    cli_main(["report", str(out / "run"), "-f", "md", "-f", "sarif", "-f", "junit", "-f", "html"])

    # the library path an attack command takes: results and errors as JSON
    errors: list[str] = []
    url = f"{base}/echo/predict?api_key={qkey}"
    with HttpClassifier(url, input_shape=(1, 8, 8), num_classes=10, api_key_env=ENV) as t:
        x = torch.rand(4, 1, 8, 8)
        res = Square(eps=0.1, max_queries=8, seed=0).run(t, x, t.labels(x))
        (out / "attack.json").write_text(json.dumps(res.to_dict()))
        errors += [repr(t), json.dumps(t.describe())]
    for fault in ("echo-401", "echo-bad", "echo-500"):
        with HttpClassifier(
            f"{base}/{fault}/predict?key={qkey}",
            input_shape=(1, 8, 8),
            num_classes=10,
            api_key_env=ENV,
            retries=1,
        ) as t:
            with pytest.raises(AdvlabError) as err:
                t.scores(torch.rand(2, 1, 8, 8))
            errors.append(f"{type(err.value).__name__}: {err.value}")

    # the keys really went out and came back
    assert f"Bearer {key}" in app.auth_seen
    assert any(qkey in q for f, q in app.seen if f == "echo")
    assert app.calls["echo-500"] >= 3 and app.calls["echo"] >= 4
    files = _all_text(out)
    names = {f.name for f in files}
    assert {"results.json", "run.json", "report.html", "report.md"} <= names
    assert any(f.suffix == ".sarif" or f.name.endswith(".sarif.json") for f in files)
    assert len(list((out / "run" / "tasks").glob("*.json"))) >= 2
    results = json.loads((out / "run" / "results.json").read_text())
    ran = {(r["task"]["target"], r["status"]) for r in results["records"]}
    assert ("api", "ok") in ran and ("broken", "error") in ran
    # the echoed error reached the records and reports, redacted
    assert any("you sent Authorization: ***" in t for t in files.values())
    captured = capsys.readouterr()
    logs = caplog.text
    assert "HTTP Request" in logs and "retry 1/2" in logs  # the logs we search are real
    assert "***" in logs and any("you sent Authorization" in e for e in errors)
    for where, text in [
        *files.items(),
        ("logs", logs),
        ("stdout", captured.out),
        ("stderr", captured.err),
        *(("error", e) for e in errors),
    ]:
        assert key not in text, f"the header key leaked into {where}"
        assert qkey not in text, f"the query key leaked into {where}"


def test_redact_and_safe_url() -> None:
    secrets.register("tok-AAAA-1234")
    assert secrets.redact("x tok-AAAA-1234 y") == "x *** y"
    assert secrets.redact_data({"a": ["tok-AAAA-1234"]}) == {"a": ["***"]}
    url = "https://u:pw-5678@h.example/p?api_key=abc123&model=v2&Token=zz"
    assert secrets.safe_url(url) == "https://***@h.example/p?api_key=***&model=v2&Token=***"
    secrets.register_url("https://h/p?access_token=qqqq-9999&n=1")
    assert secrets.redact("url ?access_token=qqqq-9999") == "url ?access_token=***"
    secrets.register("abc")  # too short to search for in free text
    assert secrets.redact("abcdef") == "abcdef"
    secrets.clear()
    assert secrets.registered() == 0 and secrets.redact("x tok-AAAA-1234") == "x tok-AAAA-1234"


def test_log_records_of_child_loggers_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    secrets.register("child-secret-42")
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpcore.http11").debug("headers %s", [("x-echo", "child-secret-42")])
    logging.getLogger("some.other.lib").warning("got child-secret-42 back")
    try:
        raise ValueError("boom child-secret-42")
    except ValueError:
        logging.getLogger("advlab.deep.module").exception("failed")
    assert "child-secret-42" not in caplog.text and caplog.text.count("***") >= 3

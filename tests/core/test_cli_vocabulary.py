"""``advlab attack`` speaks the vocabulary: one eps default, --query-budget, summary-key columns."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

import advlab.cli as cli
from advlab.cli import ATTACK_COLUMNS, DEMO_COLUMNS, main
from advlab.results import EvasionResult
from advlab.vocab import DEFAULT_EPS


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    cap = capsys.readouterr()
    return int(exc.value.code or 0), cap.out, cap.err


@pytest.fixture(scope="module")
def wine_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from advlab.data import load_dataset
    from advlab.models import TrainConfig, build, default_spec, save_model, train_model

    ds = load_dataset("wine", seed=0)
    spec = default_spec(ds.input_shape, ds.num_classes, None)
    model = train_model(
        build(spec, seed=0),
        ds.x_train,
        ds.y_train,
        TrainConfig(epochs=3),
        bounds=ds.bounds,
        device="cpu",
    )
    path = tmp_path_factory.mktemp("cli") / "m.safetensors"
    meta = {
        "arch": spec,
        "input_shape": list(ds.input_shape),
        "num_classes": ds.num_classes,
        "bounds": list(ds.bounds),
    }
    return save_model(model.cpu(), path, meta)


def test_table_columns_are_summary_keys():
    keys = _summary_keys()
    assert set(ATTACK_COLUMNS) <= keys
    assert set(DEMO_COLUMNS) - {"target"} <= keys


def _summary_keys() -> set[str]:
    import torch

    r = EvasionResult(
        success=torch.zeros(2, dtype=torch.bool),
        clean_correct=torch.ones(2, dtype=torch.bool),
        norms=torch.zeros(2),
    )
    return set(r.summary())


def test_attack_defaults_to_the_one_eps_and_prints_summary_keys(
    wine_model, tmp_path, capsys, monkeypatch
):
    buf = io.StringIO()
    monkeypatch.setattr(cli, "out", Console(file=buf, width=300))
    out_json = tmp_path / "r.json"
    argv = [
        *("attack", str(wine_model), "wine", "--n", "10", "--param", "steps=2"),
        *("--json", str(out_json), "-q"),
    ]
    code, _, _ = run(argv, capsys)
    assert code == 0
    data = json.loads(out_json.read_text())
    assert data["summary"]["eps"] == [DEFAULT_EPS]
    header = next(line for line in buf.getvalue().splitlines() if "robust_accuracy" in line)
    cells = [c.strip() for c in header.strip().strip("┃").split("┃")]
    assert tuple(cells) == ATTACK_COLUMNS


def test_query_budget_option_and_its_deprecated_alias(wine_model, tmp_path, capsys):
    base = ["attack", str(wine_model), "wine", "--n", "10", "-q", "--param", "steps=20"]
    code, _, err = run([*base, "--query-budget", "15", "--json", str(tmp_path / "a.json")], capsys)
    assert code == 0 and "deprecated" not in err
    a = json.loads((tmp_path / "a.json").read_text())
    assert a["stopped_early"] and a["queries"] <= 15
    code, _, err = run([*base, "--max-queries", "15", "--json", str(tmp_path / "b.json")], capsys)
    assert code == 0 and "--max-queries is deprecated, use --query-budget" in err
    b = json.loads((tmp_path / "b.json").read_text())
    assert b["stopped_early"] and b["queries"] == a["queries"]
    code, _, err = run([*base, "--max-queries", "15", "--query-budget", "15"], capsys)
    assert code == 2 and "not both" in err

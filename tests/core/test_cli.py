"""The command line: exit codes, one-line errors, train -> attack round trip."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from advlab.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    cap = capsys.readouterr()
    return int(exc.value.code or 0), cap.out, cap.err


def test_list_names_attacks_defenses_datasets(capsys):
    code, out, _ = run(["list"], capsys)
    assert code == 0
    for name in ("pgd", "autoattack", "bit_depth", "digits"):
        assert name in out


def test_train_then_attack_writes_json(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(["train", "wine", "--out", "m.safetensors", "--epochs", "5", "-q"], capsys)
    assert code == 0 and (tmp_path / "m.safetensors").exists() and (tmp_path / "m.json").exists()
    code, out, _ = run(
        [
            "attack",
            "m.safetensors",
            "wine",
            "-a",
            "pgd",
            "--eps",
            "0.05",
            "--eps",
            "0.2",
            "--n",
            "30",
            "--param",
            "steps=5",
            "--json",
            "r.json",
            "-q",
        ],
        capsys,
    )
    assert code == 0
    data = json.loads((tmp_path / "r.json").read_text())
    accs = data["summary"]["robust_accuracy"]
    assert len(accs) == 2 and accs[0] >= accs[1]


def test_bad_input_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["attack", "missing.safetensors", "digits"], capsys)
    assert code == 2 and "not found" in err and "Traceback" not in err
    torch.save({"w": torch.zeros(2)}, tmp_path / "m.pt")
    code, _, err = run(["attack", "m.pt", "digits"], capsys)
    assert code == 2 and "never unpickles" in err
    (tmp_path / "p.safetensors").write_bytes(pickle.dumps({"a": 1}))
    code, _, err = run(["attack", "p.safetensors", "digits"], capsys)
    assert code == 2 and "pickle" in err


def test_unknown_attack_lists_valid_names(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run(["train", "wine", "--out", "m.safetensors", "--epochs", "1", "-q"], capsys)
    code, _, err = run(["attack", "m.safetensors", "wine", "-a", "nosuch"], capsys)
    assert code == 2 and "valid attacks" in err and "pgd" in err


def test_usage_error_exits_4(capsys):
    code, _, _ = run(["list", "--no-such-option"], capsys)
    assert code == 4


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-a", "pgd", "--param", "stepz=3"], "unknown parameter(s) stepz"),
        (["-a", "knockoff"], "runs evasion attacks"),
    ],
)
def test_attack_usage_errors_are_one_line(tmp_path, capsys, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    run(["train", "wine", "--out", "m.safetensors", "--epochs", "1", "-q"], capsys)
    code, _, err = run(["attack", "m.safetensors", "wine", *args], capsys)
    assert code == 2
    assert expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_version_flag_prints_the_version(capsys) -> None:
    import advlab
    from advlab.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"advlab {advlab.__version__}"


def test_a_dash_means_stdout(tmp_path, monkeypatch, capsys) -> None:
    from advlab.cli import main

    monkeypatch.chdir(tmp_path)
    for argv in (["init", "-"], ["schema", "-o", "-"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
        assert capsys.readouterr().out.strip()
    assert not (tmp_path / "-").exists()


def test_attack_accepts_keras_files_and_entry_points(tmp_path, capsys, monkeypatch):
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    monkeypatch.chdir(tmp_path)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((13,)), keras.layers.Dense(3)])
    model.save(tmp_path / "wine.keras")
    code, out, err = run(["attack", "wine.keras", "wine", "-a", "fgsm", "--n", "10", "-q"], capsys)
    assert code == 0, err
    assert "fgsm on wine.keras" in out
    (tmp_path / "my_target.py").write_text(
        "from advlab.targets import TorchClassifier\n"
        "import torch\n"
        "def make():\n"
        "    torch.manual_seed(0)\n"
        "    return TorchClassifier(torch.nn.Linear(13, 3), input_shape=(13,), device='cpu')\n"
    )
    code, out, err = run(
        ["attack", "my_target:make", "wine", "-a", "fgsm", "--n", "10", "--query-budget", "5"],
        capsys,
    )
    assert code == 0 and "fgsm on my_target:make" in out
    assert "query budget exhausted: 0 of 5 used" in err  # the entry's target got the budget
    code, out, err = run(["attack", "os:system", "wine"], capsys)
    assert code == 2 and "refused" in err


def test_list_piped_keeps_names_and_links_whole(capsys):
    code, text, _ = run(["list", "--json"], capsys)
    metas = json.loads(text)
    code, out, _ = run(["list"], capsys)
    assert code == 0
    lines = out.splitlines()
    plugins = metas["plugins"]
    assert plugins
    for m in plugins:
        row = [ln for ln in lines if f"│ {m['name']} " in ln]
        assert row, f"{m['name']} is not whole on any line"
        if m.get("link"):
            assert m["link"] in row[0]


def test_train_resnet_then_attack(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "digits", "--arch", "resnet", "--out", "r.safetensors", "--epochs", "1"]
    code, _, _ = run([*argv, "-q"], capsys)
    assert code == 0
    assert json.loads((tmp_path / "r.json").read_text())["arch"]["arch"] == "resnet"
    code, out, _ = run(
        ["attack", "r.safetensors", "digits", "-a", "fgsm", "--eps", "0.1", "--n", "20"], capsys
    )
    assert code == 0, out

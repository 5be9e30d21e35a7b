"""CLI contract: exit codes 0/1/2/3/4, text / JSON / SARIF 2.1.0 output, convert."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from advlab.serialization.cli import app, convert_command, scan_command
from advlab.serialization.corpus import P2, call, g, u

EVIL = P2 + call(g("os", "system"), u("id")) + b"."
runner = CliRunner()


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    torch = pytest.importorskip("torch")
    out = {
        "evil": tmp_path / "evil.bin",
        "clean": tmp_path / "clean.pt",
        "text": tmp_path / "notes.txt",
        "empty": tmp_path / "empty.pkl",
    }
    out["evil"].write_bytes(EVIL)
    torch.save({"w": torch.ones(2)}, out["clean"])
    out["text"].write_text("just text\n")
    out["empty"].write_bytes(b"")
    return out


def run(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.output


def test_exit_codes(files: dict[str, Path]) -> None:
    assert run("scan", str(files["clean"]))[0] == 0
    assert run("scan", str(files["evil"]), str(files["clean"]))[0] == 1
    assert run("scan", str(files["empty"]))[0] == 2
    assert run("scan", str(files["text"]))[0] == 3
    assert run("scan", str(files["evil"]), str(files["empty"]))[0] == 1  # findings win
    assert run("scan", "/nonexistent/path.pt")[0] == 2  # bad input, as the README says
    assert run("scan", "--format", "xml", str(files["clean"]))[0] == 4
    assert run("scan", "--no-such-option", str(files["clean"]))[0] == 4
    assert run("scan")[0] == 4


def test_text_output_names_the_finding(files: dict[str, Path]) -> None:
    code, out = run("scan", str(files["evil"]))
    assert code == 1
    assert "CRITICAL" in out and "os.system" in out


def test_json_output(files: dict[str, Path], tmp_path: Path) -> None:
    dest = tmp_path / "report.json"
    code = scan_command([files["evil"], files["clean"]], "json", dest)
    assert code == 1
    data = json.loads(dest.read_text())
    assert data["exit_code"] == 1 and data["summary"]["files"] == 2
    evil = next(f for f in data["files"] if f["path"].endswith("evil.bin"))
    assert {x["severity"] for x in evil["findings"]} == {"critical"}


def test_sarif_output_is_valid_2_1_0(files: dict[str, Path], tmp_path: Path) -> None:
    dest = tmp_path / "report.sarif"
    code, _ = run("scan", "-f", "sarif", "-o", str(dest), str(files["evil"]))
    assert code == 1
    log = json.loads(dest.read_text())
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    run0 = log["runs"][0]
    rules = run0["tool"]["driver"]["rules"]
    assert run0["results"], "no results"
    for res in run0["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] in {"error", "warning", "note"}
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].endswith("evil.bin")
        assert isinstance(loc["region"]["byteOffset"], int)
    assert run0["invocations"][0]["exitCode"] == 1


def test_sarif_has_the_required_properties(files: dict[str, Path]) -> None:
    """Required properties of SARIF 2.1.0 (no offline copy of the JSON schema is available)."""
    from advlab.serialization.sarif import to_sarif
    from advlab.serialization.scan import scan_paths

    log = to_sarif(scan_paths([files["evil"]]))
    # required properties per SARIF 2.1.0 section 3.13 / 3.14 / 3.27
    assert set(log) >= {"version", "runs"}
    assert set(log["runs"][0]) >= {"tool", "results"}
    assert set(log["runs"][0]["tool"]["driver"]) >= {"name"}
    for res in log["runs"][0]["results"]:
        assert set(res) >= {"message"} and "text" in res["message"]


def test_trust_sklearn_flag(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    import joblib
    from sklearn.linear_model import LogisticRegression

    p = tmp_path / "model.joblib"
    joblib.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), p)
    assert run("scan", str(p))[0] == 1
    assert run("scan", "--trust-sklearn", str(p))[0] == 0


def test_allow_option(tmp_path: Path) -> None:
    p = tmp_path / "frac.pkl"
    p.write_bytes(P2 + call(g("fractions", "Fraction"), b"K\x01") + b".")
    assert run("scan", str(p))[0] == 1
    assert run("scan", "--allow", "fractions.Fraction", str(p))[0] == 0


def test_convert(files: dict[str, Path], tmp_path: Path) -> None:
    from safetensors.torch import load_file

    dst = tmp_path / "out.safetensors"
    assert convert_command(files["clean"], dst) == 0
    assert list(load_file(str(dst))) == ["w"]
    assert convert_command(files["evil"], tmp_path / "no.safetensors") == 1
    assert not (tmp_path / "no.safetensors").exists()
    assert convert_command(tmp_path / "missing.pt", dst) == 2
    code, _ = run("convert", str(files["clean"]), str(tmp_path / "cli.safetensors"))
    assert code == 0 and (tmp_path / "cli.safetensors").exists()


def test_convert_lists_what_it_drops(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    src = tmp_path / "train.pt"
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 2)).sum().backward()
    opt.step()
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 7}
    ckpt["hparams"] = {"lr": 0.1, "batch_size": 32}
    torch.save(ckpt, src)
    code, out = run("convert", str(src), str(tmp_path / "w.safetensors"))
    assert code == 0, out
    assert "2 tensors" in out and "dropped 3 non-weight entries" in out
    assert "optimizer: optimizer state" in out and "epoch: int" in out
    assert "hparams: dict with keys ['batch_size', 'lr']" in out
    from safetensors.torch import load_file

    assert sorted(load_file(str(tmp_path / "w.safetensors"))) == ["bias", "weight"]


def test_convert_allow_mirrors_load_model_allowlist(tmp_path: Path) -> None:
    """A checkpoint referencing a class outside the allowlist is refused (without telling the
    user to run `advlab convert` again); --allow accepts it, as load_model(allowlist=) does;
    a name that runs code when unpickled is never allowed."""
    torch = pytest.importorskip("torch")
    from fractions import Fraction

    from advlab.serialization.safe_load import load_model

    src = tmp_path / "frac.pt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "ratio": Fraction(1, 3)}, src)
    code, out = run("convert", str(src), str(tmp_path / "a.safetensors"))
    assert code == 1 and "refused" in out and "advlab convert in.pt" not in out
    code, out = run("convert", "--allow", "fractions.Fraction", str(src), str(tmp_path / "b.st"))
    assert code == 0, out
    assert "ratio: Fraction" in out
    assert list(load_model(src, allowlist=["fractions.Fraction"])) == ["w"]
    assert list(load_model(src, allowlist=[Fraction])) == ["w"]
    code, out = run("convert", "--allow", "os.system", str(src), str(tmp_path / "c.st"))
    assert code == 2 and "can run code" in out

"""Safe loading refuses code; crafted payloads really work (proved only in a subprocess)."""

from __future__ import annotations

import datetime
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from advlab.serialization.craft import MARKER_TEXT, inject_payload  # noqa: E402
from advlab.serialization.safe_load import UnsafeModelError, load_model  # noqa: E402
from advlab.serialization.scan import scan_paths  # noqa: E402


@pytest.fixture()
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------ safe loading
def test_load_state_dict_zip_legacy_and_safetensors(model: torch.nn.Module, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    sd = model.state_dict()
    torch.save(sd, tmp_path / "a.pt")
    torch.save(sd, tmp_path / "b.pt", _use_new_zipfile_serialization=False)
    save_file(dict(sd), str(tmp_path / "c.safetensors"))
    for name in ("a.pt", "b.pt", "c.safetensors"):
        assert _same(load_model(tmp_path / name), dict(sd)), name


def test_full_training_checkpoint_returns_the_model_state(
    model: torch.nn.Module, tmp_path: Path
) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ckpt = {
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": opt.state_dict(),
        "epoch": 3,
    }
    torch.save(ckpt, tmp_path / "ckpt.pt")
    assert _same(load_model(tmp_path / "ckpt.pt"), dict(model.state_dict()))


def test_pickled_module_is_refused_with_a_pointer_to_convert(
    model: torch.nn.Module, tmp_path: Path
) -> None:
    torch.save(model, tmp_path / "module.pt")
    with pytest.raises(UnsafeModelError, match="advlab convert in.pt"):
        load_model(tmp_path / "module.pt")
    # convert itself refuses it without pointing at convert, the command just run
    from advlab.serialization.safe_load import convert

    with pytest.raises(UnsafeModelError) as err:
        convert(tmp_path / "module.pt", tmp_path / "out.safetensors")
    assert "advlab convert in.pt" not in str(err.value)
    assert "only converts files it can load without running code" in str(err.value)
    assert not (tmp_path / "out.safetensors").exists()


def test_crafted_checkpoint_is_refused_and_nothing_runs(
    model: torch.nn.Module, tmp_path: Path
) -> None:
    torch.save(model.state_dict(), tmp_path / "clean.pt")
    marker = tmp_path / "marker"
    for style in ("exec", "tamper"):
        inject_payload(
            tmp_path / "clean.pt",
            tmp_path / f"{style}.pt",
            style=style,  # type: ignore[arg-type]
            marker_path=marker,
        )
        with pytest.raises(UnsafeModelError, match="builtins.exec"):
            load_model(tmp_path / f"{style}.pt")
    assert not marker.exists()


def test_raw_pickle_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "x.pkl"
    p.write_bytes(b"\x80\x02cos\nsystem\n(X\x02\x00\x00\x00idtR.")
    with pytest.raises(UnsafeModelError):
        load_model(p)


def test_allowlist_extends_scan_and_torch(model: torch.nn.Module, tmp_path: Path) -> None:
    ckpt = {"model_state_dict": model.state_dict(), "date": datetime.date(2024, 1, 2)}
    torch.save(ckpt, tmp_path / "dated.pt")
    with pytest.raises(UnsafeModelError, match="datetime.date"):
        load_model(tmp_path / "dated.pt")
    sd = load_model(tmp_path / "dated.pt", allowlist=[datetime.date])
    assert _same(sd, dict(model.state_dict()))


def test_non_state_dict_is_a_value_error(tmp_path: Path) -> None:
    torch.save({"epoch": 1, "lr": 0.1}, tmp_path / "meta.pt")
    with pytest.raises(ValueError, match="not a state dict"):
        load_model(tmp_path / "meta.pt")


def test_safe_load_never_calls_unsafe_apis() -> None:
    import advlab.serialization.safe_load as mod

    src = Path(mod.__file__).read_text()
    assert "weights_only=False" not in src
    assert "pickle.load(" not in src and "pickle.loads(" not in src
    assert src.count("torch.load(") == 1 and "weights_only=True" in src


# ------------------------------------------------------------------ crafting
_LOADER = textwrap.dedent(
    """
    import sys, torch
    a = torch.load(sys.argv[1], weights_only=False)
    b = torch.load(sys.argv[2], weights_only=True)
    a = a.get("model_state_dict", a)
    b = b.get("model_state_dict", b)
    changed = [k for k in b if not torch.equal(a[k], b[k])]
    diff = [float((a[k] - b[k]).abs().sum()) for k in changed]
    print("CHANGED", changed, diff)
    """
)


def _load_in_subprocess(crafted: Path, clean: Path, cwd: Path) -> str:
    """The one place a crafted file is deliberately loaded: our own file, in a child process."""
    res = subprocess.run(
        [sys.executable, "-c", _LOADER, str(crafted), str(clean)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.mark.parametrize("wrapped", [False, True])
def test_exec_payload_loads_and_fires(
    model: torch.nn.Module, tmp_path: Path, wrapped: bool
) -> None:
    obj = {"model_state_dict": model.state_dict(), "epoch": 1} if wrapped else model.state_dict()
    torch.save(obj, tmp_path / "clean.pt")
    marker = tmp_path / "exec_marker"
    inject_payload(tmp_path / "clean.pt", tmp_path / "crafted.pt", style="exec", marker_path=marker)
    assert scan_paths([tmp_path / "crafted.pt"]).exit_code() == 1
    assert not marker.exists()
    out = _load_in_subprocess(tmp_path / "crafted.pt", tmp_path / "clean.pt", tmp_path)
    assert "CHANGED [] []" in out  # weights intact
    assert marker.read_text() == MARKER_TEXT


def test_tamper_payload_changes_one_weight_at_load_time(
    model: torch.nn.Module, tmp_path: Path
) -> None:
    torch.save({"model_state_dict": model.state_dict(), "epoch": 2}, tmp_path / "clean.pt")
    marker = tmp_path / "tamper_marker"
    inject_payload(
        tmp_path / "clean.pt",
        tmp_path / "crafted.pt",
        style="tamper",
        marker_path=marker,
        key="2.bias",
        delta=0.5,
    )
    assert scan_paths([tmp_path / "crafted.pt"]).exit_code() == 1
    out = _load_in_subprocess(tmp_path / "crafted.pt", tmp_path / "clean.pt", tmp_path)
    assert "CHANGED ['2.bias'] [0.5]" in out
    assert marker.read_text() == f"{MARKER_TEXT}:2.bias"


def test_raw_pickle_injection(tmp_path: Path) -> None:
    (tmp_path / "clean.pkl").write_bytes(pickle.dumps({"a": [1, 2]}, protocol=2))
    marker = tmp_path / "m"
    inject_payload(tmp_path / "clean.pkl", tmp_path / "evil.pkl", style="exec", marker_path=marker)
    code = "import pickle,sys; print(pickle.loads(open(sys.argv[1],'rb').read()))"
    res = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "evil.pkl")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.stdout.strip() == "{'a': [1, 2]}" and marker.exists()

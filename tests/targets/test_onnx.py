"""OnnxClassifier: same outputs as the torch model, scores access, metering and budgets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from advlab.access import Access
from advlab.attacks.evasion import PGD
from advlab.data import load_dataset
from advlab.errors import AccessError, BudgetExhausted, ConfigError, InputError
from advlab.models import MLP, ModelBundle, TrainConfig, reference_model
from advlab.targets import LabelsOnly, OnnxClassifier, TorchClassifier
from advlab.targets.onnx import export_onnx


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return reference_model("digits", train=TrainConfig(epochs=3))


@pytest.fixture(scope="module")
def x_test() -> torch.Tensor:
    return torch.as_tensor(load_dataset("digits").x_test)


@pytest.fixture(scope="module")
def onnx_path(bundle: ModelBundle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(bundle, tmp_path_factory.mktemp("onnx") / "digits.onnx")


@pytest.fixture(scope="module")
def reference(bundle: ModelBundle, x_test: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return bundle.model(x_test)


def test_outputs_equal_torch(
    onnx_path: Path, x_test: torch.Tensor, reference: torch.Tensor
) -> None:
    target = OnnxClassifier(onnx_path)
    assert target.access == Access.SCORES
    assert target.input_shape == (1, 8, 8) and target.num_classes == 10  # read from the graph
    out = target.scores(x_test)
    assert out.shape == reference.shape and out.dtype == torch.float32
    torch.testing.assert_close(out, reference, atol=1e-5, rtol=0)
    assert torch.equal(target.labels(x_test), reference.argmax(1))
    np.testing.assert_array_equal(target.predict(x_test.numpy()), reference.argmax(1).numpy())


def test_meter_counts_and_batches(onnx_path: Path, x_test: torch.Tensor) -> None:
    target = OnnxClassifier(onnx_path, batch_size=100)
    target.labels(x_test)
    assert target.meter.queries == len(x_test)
    assert target.meter.batches == 5
    assert target.meter.gradient_calls == 0


def test_budget_enforced(onnx_path: Path, x_test: torch.Tensor) -> None:
    target = OnnxClassifier(onnx_path, query_budget=50, batch_size=30)
    with pytest.raises(BudgetExhausted, match="50"):
        target.labels(x_test[:60])
    assert target.meter.queries == 30  # the second batch was refused before running


def test_no_gradients(onnx_path: Path, x_test: torch.Tensor) -> None:
    target = OnnxClassifier(onnx_path)
    with pytest.raises(AccessError, match="gradients"):
        target.loss_gradient(x_test[:2], torch.zeros(2, dtype=torch.long))
    with pytest.raises(AccessError, match="needs gradients access"):
        PGD(eps=0.1, steps=2).run(target, x_test[:4])


def test_labels_only_wrapper(
    onnx_path: Path, x_test: torch.Tensor, reference: torch.Tensor
) -> None:
    target = LabelsOnly(OnnxClassifier(onnx_path))
    assert target.access == Access.LABELS
    assert torch.equal(target.labels(x_test[:20]), reference[:20].argmax(1))
    with pytest.raises(AccessError, match="scores"):
        target.scores(x_test[:2])


def test_input_checks(onnx_path: Path, x_test: torch.Tensor) -> None:
    target = OnnxClassifier(onnx_path)
    with pytest.raises(InputError, match=r"expected \(N, 1, 8, 8\)"):
        target.check_inputs(np.zeros((3, 64), np.float32))
    with pytest.raises(InputError, match="NaN"):
        target.check_inputs(np.full((1, 1, 8, 8), np.nan, np.float32))
    with pytest.raises(InputError, match="bounds"):
        target.check_inputs(x_test[:2] + 2)


def test_fixed_batch_graph(
    bundle: ModelBundle, tmp_path: Path, x_test: torch.Tensor, reference: torch.Tensor
) -> None:
    path = export_onnx(bundle, tmp_path / "fixed.onnx", dynamic_batch=False)
    target = OnnxClassifier(path)
    assert target.batch_size == 1
    torch.testing.assert_close(target.scores(x_test[:7]), reference[:7], atol=1e-5, rtol=0)
    assert target.meter.queries == 7


def test_probability_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(MLP(5, 3, hidden=[8]), nn.Softmax(dim=1)).eval()
    path = export_onnx(net, tmp_path / "probs.onnx", (5,))
    target = OnnxClassifier(path, output="probs")
    x = torch.rand(6, 5)
    with torch.no_grad():
        ref = net(x)
    torch.testing.assert_close(target.scores(x), ref, atol=1e-6, rtol=0)
    torch.testing.assert_close(target.logits(x), torch.log(ref), atol=1e-5, rtol=0)


def test_preprocessing_folded_into_export(tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = MLP(4, 3, hidden=[8]).eval()
    mean, std = [0.2, 0.4, 0.5, 0.1], [0.5, 0.25, 2.0, 1.0]
    meta = {"input_shape": [4], "num_classes": 3, "preprocess": {"mean": mean, "std": std}}
    path = export_onnx(ModelBundle(net, meta), tmp_path / "pre.onnx")
    x = torch.rand(9, 4)
    expected = TorchClassifier(net, input_shape=(4,), preprocess=(mean, std), device="cpu").scores(
        x
    )
    torch.testing.assert_close(OnnxClassifier(path).scores(x), expected, atol=1e-5, rtol=0)


def test_symbolic_shape_needs_input_shape(tmp_path: Path) -> None:
    class Flat(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(1)[:, :3]

    path = tmp_path / "sym.onnx"
    torch.onnx.export(
        Flat(),
        (torch.zeros(1, 6),),
        str(path),
        input_names=["input"],
        dynamic_axes={"input": {0: "n", 1: "d"}},
        dynamo=False,
    )
    with pytest.raises(ConfigError, match="input_shape"):
        OnnxClassifier(path)
    target = OnnxClassifier(path, input_shape=(6,))
    assert target.num_classes == 3  # found by a probe run
    assert target.meter.queries == 0  # the probe is not charged


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        OnnxClassifier(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf graph")
    with pytest.raises(InputError, match="not a loadable ONNX model"):
        OnnxClassifier(junk)


def test_bad_arguments(onnx_path: Path) -> None:
    with pytest.raises(ConfigError, match="output"):
        OnnxClassifier(onnx_path, output="scores")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no output named"):
        OnnxClassifier(onnx_path, output_name="nope")
    with pytest.raises(ConfigError, match="no input named"):
        OnnxClassifier(onnx_path, input_name="nope")
    with pytest.raises(ConfigError, match="input_shape"):
        export_onnx(nn.Linear(3, 2), onnx_path.parent / "x.onnx")


def test_describe(onnx_path: Path) -> None:
    d = json.loads(json.dumps(OnnxClassifier(onnx_path).describe()))
    assert d["type"] == "OnnxClassifier" and d["access"] == "scores"
    assert d["providers"] == ["CPUExecutionProvider"] and d["path"] == str(onnx_path)


def test_missing_onnxruntime_names_the_extra(
    onnx_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"advlab\[onnx\]"):
        OnnxClassifier(onnx_path)


def test_provider_choice() -> None:
    from advlab.targets.onnx import _choose_providers

    class FakeOrt:
        def __init__(self, available: list[str]) -> None:
            self.available = available

        def get_available_providers(self) -> list[str]:
            return self.available

    cpu_only = FakeOrt(["CPUExecutionProvider"])
    both = FakeOrt(["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert _choose_providers(None, torch.device("cpu"), both) == ["CPUExecutionProvider"]
    assert _choose_providers(None, torch.device("cuda"), both)[0] == "CUDAExecutionProvider"
    with pytest.raises(ConfigError, match="CUDAExecutionProvider"):
        _choose_providers(None, torch.device("cuda"), cpu_only)
    assert _choose_providers(["X"], torch.device("cpu"), cpu_only) == ["X"]

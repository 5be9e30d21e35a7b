"""Knockoff: query the embedded digits (unlabelled), train a copy on the answers."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from solutions._common import a_pickle

ARCH = {"arch": "mlp", "in_features": 64, "num_classes": 10, "hidden": [128]}


def _safetensors(model: Any, arch: dict[str, Any]) -> bytes:
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return save(state, metadata={"arch": json.dumps(arch)})


def solve(client: Any) -> tuple[bytes, str]:
    from advlab.attacks.extraction import KnockoffNets
    from advlab.data import load_dataset

    pool = load_dataset("digits", seed=0).x_train  # unlabelled in-distribution data
    target = client.target("extraction_knockoff")
    res = KnockoffNets(query_budget=1000, arch=ARCH, epochs=30, seed=0).extract(
        target, pool, n_uniform=0
    )
    model = getattr(res.model, "model", res.model)  # the stolen network inside its wrapper
    return _safetensors(model, ARCH), "copy.safetensors"


def _constant_onnx() -> bytes:
    """An ONNX model answering the same scores for every input (class 3)."""
    from onnx import TensorProto, helper

    w = helper.make_tensor("w", TensorProto.FLOAT, [64, 10], [0.0] * 640)
    b = helper.make_tensor("b", TensorProto.FLOAT, [10], [float(i == 3) for i in range(10)])
    shape = helper.make_tensor("s", TensorProto.INT64, [2], [-1, 64])
    nodes = [
        helper.make_node("Reshape", ["x", "s"], ["f"]),
        helper.make_node("MatMul", ["f", "w"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "constant",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 10])],
        [w, b, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def _torch_save(model: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def cheats(client: Any) -> list[tuple[str, bytes, str]]:
    from advlab.models.arch import build

    untrained = build(ARCH, seed=0)
    return [
        ("a constant ONNX model", _constant_onnx(), "agrees on"),
        ("an untrained copy", _safetensors(untrained, ARCH), "agrees on"),
        (
            "weights that do not fit the arch",
            _safetensors(untrained, dict(ARCH, num_classes=7)),
            "arch",
        ),
        ("a torch checkpoint", _torch_save(untrained), "pickle"),
        ("a pickle", a_pickle(np.zeros(3)), "pickle"),
    ]

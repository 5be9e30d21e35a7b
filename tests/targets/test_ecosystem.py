"""Keras 3 (torch backend) and Hugging Face models as targets, cross-checked against torch."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402  (dev dependencies, installed by the set-up)
import transformers  # noqa: E402

from advlab.errors import InputError  # noqa: E402
from advlab.testing.target import check_target  # noqa: E402


def _keras_mlp() -> object:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3),
        ]
    )


def test_keras_target_matches_the_same_model_in_pytorch(tmp_path: Path) -> None:
    from advlab.targets.keras import load_keras_target

    model = _keras_mlp()
    model.save(tmp_path / "m.keras")
    target = load_keras_target(tmp_path / "m.keras")
    dense1, dense2 = (layer for layer in model.layers)
    twin = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        for lin, layer in zip((twin[0], twin[2]), (dense1, dense2)):
            kernel, bias = (np.asarray(w) for w in layer.get_weights())
            lin.weight.copy_(torch.as_tensor(kernel.T))
            lin.bias.copy_(torch.as_tensor(bias))
    x = np.random.default_rng(0).random((12, 6), dtype=np.float32)
    xt = torch.as_tensor(x)
    torch.testing.assert_close(target.logits(xt).cpu(), twin(xt), atol=1e-5, rtol=1e-5)
    w = torch.tensor([1.0, -2.0, 0.5])
    grad, _ = target.gradient(xt, lambda z: (z * w).sum(1))
    xr = xt.clone().requires_grad_(True)
    (twin(xr) * w).sum().backward()
    torch.testing.assert_close(grad.cpu(), xr.grad, atol=1e-5, rtol=1e-5)
    check_target(target, x)


def test_keras_image_model_is_presented_channels_first(tmp_path: Path) -> None:
    from advlab.targets.keras import load_keras_target

    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    model.save(tmp_path / "cnn.keras")
    target = load_keras_target(tmp_path / "cnn.keras")
    assert target.input_shape == (1, 8, 8) and target.num_classes == 10
    x = np.random.default_rng(1).random((5, 1, 8, 8), dtype=np.float32)
    expected = model(torch.as_tensor(x).permute(0, 2, 3, 1))
    torch.testing.assert_close(target.logits(torch.as_tensor(x)).cpu(), expected.cpu().detach())
    check_target(target, x)


def test_keras_lambda_layers_and_foreign_modules_are_refused(tmp_path: Path) -> None:
    from advlab.targets.keras import check_keras_archive, load_keras_target

    lam = keras.Sequential(
        [keras.Input((4,)), keras.layers.Lambda(lambda t: t * 2), keras.layers.Dense(2)]
    )
    lam.save(tmp_path / "lam.keras")
    with pytest.raises(InputError, match="advlab scan"):
        load_keras_target(tmp_path / "lam.keras")
    import zipfile

    bad = tmp_path / "foreign.keras"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr(
            "config.json",
            json.dumps({"module": "evil.layers", "class_name": "Boom", "config": {}}),
        )
    with pytest.raises(InputError, match="evil.layers"):
        check_keras_archive(bad)
    (tmp_path / "plain.keras").write_text("not a zip")
    with pytest.raises(InputError, match="not a .keras archive"):
        check_keras_archive(tmp_path / "plain.keras")


def _tiny_vit(folder: Path) -> object:
    config = transformers.ViTConfig(
        image_size=8,
        patch_size=4,
        num_channels=1,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=10,
    )
    torch.manual_seed(0)
    model = transformers.ViTForImageClassification(config).eval()
    model.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(
        json.dumps({"do_normalize": True, "image_mean": [0.5], "image_std": [0.25]})
    )
    return model


def test_hf_image_classifier_matches_pytorch_and_normalises_inside(tmp_path: Path) -> None:
    from advlab.targets.huggingface import load_hf_image_classifier

    model = _tiny_vit(tmp_path)
    target = load_hf_image_classifier(tmp_path, device="cpu")
    assert target.input_shape == (1, 8, 8) and target.num_classes == 10
    x = np.random.default_rng(2).random((6, 1, 8, 8), dtype=np.float32)
    with torch.no_grad():
        expected = model(pixel_values=(torch.as_tensor(x) - 0.5) / 0.25).logits
    torch.testing.assert_close(target.logits(torch.as_tensor(x)), expected, atol=1e-5, rtol=1e-5)
    check_target(target, x)


def test_hf_directories_that_need_code_or_pickles_are_refused(tmp_path: Path) -> None:
    from advlab.targets.huggingface import check_hf_directory, load_hf_image_classifier

    _tiny_vit(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "auto_map": {"x": "m.X"}}))
    with pytest.raises(InputError, match="trust_remote_code"):
        load_hf_image_classifier(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(config))
    for f in tmp_path.glob("*.safetensors"):
        f.rename(tmp_path / "pytorch_model.bin")
    with pytest.raises(InputError, match="pytorch_model.bin"):
        check_hf_directory(tmp_path)
    with pytest.raises(InputError, match="no config.json"):
        check_hf_directory(tmp_path / "missing")


def _tiny_causal_lm(folder: Path) -> object:
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = "the secret is blue red green sky apple user assistant system : hello".split()
    vocab = {"[UNK]": 0, "[EOS]": 1, **{w: i + 2 for i, w in enumerate(words)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", eos_token="[EOS]"
    )
    fast.save_pretrained(folder)
    config = transformers.GPT2Config(
        vocab_size=len(vocab), n_positions=64, n_embd=16, n_layer=1, n_head=2, eos_token_id=1
    )
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    model.save_pretrained(folder)
    return model


def test_local_causal_lm_white_box_and_chat(tmp_path: Path) -> None:
    from advlab.llm.local import LocalCausalLM
    from advlab.llm.types import Message, SamplingParams

    model = _tiny_causal_lm(tmp_path)
    lm = LocalCausalLM.from_pretrained(tmp_path, device="cpu", max_new_tokens=5)
    prompt, cont = "the secret is", "blue sky"
    p, c = lm.encode(prompt), lm.encode(cont)
    ids = torch.tensor([p + c])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0], -1)
    expected = sum(float(logp[len(p) - 1 + i, t]) for i, t in enumerate(c))
    assert lm.continuation_logprob(prompt, cont) == pytest.approx(expected, abs=1e-4)
    grad = lm.embedding_gradient(prompt, cont)
    assert grad.shape == (len(p), 16) and bool(torch.isfinite(grad).all())
    assert float(grad.abs().sum()) > 0
    answer = lm.complete(
        [Message(role="user", content="hello")],
        SamplingParams(max_tokens=4, logprobs=True, top_logprobs=2),
    )
    assert answer.completion_tokens is not None and answer.completion_tokens <= 4
    assert answer.logprobs is not None and len(answer.logprobs) == answer.completion_tokens
    again = lm.complete([Message(role="user", content="hello")], SamplingParams(max_tokens=4))
    assert again.text == answer.text  # greedy decoding is deterministic


def test_open_model_file_recognises_every_kind(tmp_path: Path, digits_bundle) -> None:
    from advlab.models import save_model
    from advlab.targets.files import model_kind, open_model_file

    digits_bundle_path = save_model(
        digits_bundle.model.cpu(), tmp_path / "digits.safetensors", dict(digits_bundle.meta)
    )
    _keras_mlp().save(tmp_path / "m.keras")
    vit = tmp_path / "vit"
    vit.mkdir()
    _tiny_vit(vit)
    assert model_kind(tmp_path / "m.keras") == "keras"
    assert model_kind(vit) == "huggingface"
    assert model_kind(digits_bundle_path) == "model"
    assert open_model_file(tmp_path / "m.keras").input_shape == (6,)
    assert open_model_file(vit, device="cpu").num_classes == 10
    assert open_model_file(digits_bundle_path, device="cpu").input_shape == (1, 8, 8)
    (tmp_path / "ckpt.pt").write_bytes(b"\x80\x04N.")
    with pytest.raises(InputError, match="advlab convert"):
        model_kind(tmp_path / "ckpt.pt")
    (tmp_path / "model.xyz").write_text("?")
    with pytest.raises(InputError, match="unknown model file type"):
        model_kind(tmp_path / "model.xyz")


TF_SCRIPT = r"""
import os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np, keras, tensorflow as tf, torch
from advlab.targets.keras import load_keras_target
from advlab.targets.keras_tf import KerasTFClassifier
from advlab.testing.target import check_target

keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                          keras.layers.Flatten(), keras.layers.Dense(10)])
path = os.path.join(sys.argv[1], "tf.keras")
model.save(path)
target = load_keras_target(path)
assert isinstance(target, KerasTFClassifier), type(target)
assert target.input_shape == (1, 8, 8) and target.num_classes == 10
x = np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32)
check_target(target, x)
w = np.linspace(-1, 1, 10).astype(np.float32)
grad, _ = target.gradient(torch.as_tensor(x), lambda z: (z * torch.as_tensor(w)).sum(1))
xt = tf.Variable(np.transpose(x, (0, 2, 3, 1)))
with tf.GradientTape() as tape:
    value = tf.reduce_sum(model(xt) * w)
expected = np.transpose(tape.gradient(value, xt).numpy(), (0, 3, 1, 2))
np.testing.assert_allclose(grad.numpy(), expected, atol=1e-5)
print("TF-OK")
"""


def test_keras_tensorflow_backend_gradients_through_gradient_tape(tmp_path: Path) -> None:
    """Keras' backend is fixed per process: the TensorFlow path runs in a child process."""
    import subprocess
    import sys

    script = tmp_path / "tf_check.py"
    script.write_text(TF_SCRIPT)
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parents[2] / "src"), env.get("PYTHONPATH", "")]
    )
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert done.returncode == 0 and "TF-OK" in done.stdout, done.stderr[-2000:]

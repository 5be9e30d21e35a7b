# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 5: poisoning and model files
#
# A poisoning attacker changes the training data; the victim trains as usual.
#
# * **Label flipping** relabels a budget $\beta$ of the points: an untargeted accuracy drop.
# * **BadNets** (Gu et al. 2017) stamps a trigger on a few points and relabels them with the
#   target class; the victim learns "trigger ⇒ target" and stays accurate on clean inputs.
#   Success is the attack success rate (ASR) on triggered test inputs of other classes.
# * **Witches' Brew** (Geiping et al. 2021) crafts clean-label poisons by gradient matching;
#   advlab ships it as `witches_brew`.
#
# Small-scale results swing with the training seed, so advlab judges a poisoned set by
# retraining victims over several seeds, each beside a clean victim with the same seed.
#
# The second half: a model *file* is an attack surface. A pickle (PyTorch checkpoints,
# joblib) runs code when loaded.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

CI = os.environ.get("ADVLAB_TUTORIAL_MODE", "full") == "ci"
SEEDS = 1 if CI else 5

from advlab.attacks.poisoning import BadNets
from advlab.attacks.poisoning.victim import evaluate_poisoning
from advlab.data import load_dataset
from advlab.models import TrainConfig

ds = load_dataset("digits")
spec = {"arch": "mlp", "in_features": 64, "num_classes": 10, "hidden": [128, 128]}
train = TrainConfig(epochs=10 if CI else 30, seed=0)

# %% [markdown]
# ## BadNets: ASR against the budget

# %%
budgets = [0.01, 0.05] if CI else [0.005, 0.01, 0.02, 0.05]
asr, drop = [], []
for b in budgets:
    poisoned = BadNets(budget=b, target_class=0, seed=0).poison(ds.x_train, ds.y_train)
    res = evaluate_poisoning(
        poisoned, ds.x_train, ds.y_train, ds.x_test, ds.y_test, spec=spec, train=train, seeds=SEEDS
    )
    asr.append(res.success_mean)
    drop.append(res.clean_drop_mean)
plt.plot(budgets, asr, marker="o", label="attack success")
plt.plot(budgets, drop, marker="s", label="clean accuracy drop")
plt.xlabel("poisoned fraction")
plt.legend()
plt.show()
print(dict(zip(budgets, np.round(asr, 3))))

# %% [markdown]
# ## A defense: spectral signatures
#
# Tran et al. (2018): poisons leave a trace in the learned representation, an outlying
# direction within their (target) class. Train on the poisoned set, project each class's
# representations on its top singular vector, remove the largest projections.

# %%
import torch

from advlab.defenses.poison.spectral import SpectralSignatures
from advlab.models import build, train_model

poisoned = BadNets(budget=0.05, target_class=0, seed=0).poison(ds.x_train, ds.y_train)
model = train_model(build(spec, seed=0), poisoned.x, poisoned.y, train, device="cpu")
detection = SpectralSignatures(expected_fraction=0.05).detect(
    poisoned.x, poisoned.y, model=model, poison_indices=poisoned.indices
)
print("precision:", round(detection.precision, 3), "recall:", round(detection.recall, 3))

# %% [markdown]
# ### Exercise: does removing the flagged points remove the backdoor?
#
# Retrain the victim (same `spec`, `train`) on the points `detection.keep_mask()` keeps,
# and store the ASR on triggered test digits (true class not 0) in `asr_after`.

# %% tags=["solution"]
from advlab.attacks.poisoning.base import apply_trigger

keep = detection.keep_mask()
cleaned = train_model(build(spec, seed=0), poisoned.x[keep], poisoned.y[keep], train, device="cpu")
others = ds.y_test != 0
triggered = np.clip(apply_trigger(ds.x_test[others], poisoned.trigger), 0, 1).astype(np.float32)
with torch.no_grad():
    asr_after = float((cleaned(torch.as_tensor(triggered)).argmax(1).numpy() == 0).mean())

# %%
print("ASR before:", asr[-1], "after removing the flagged points:", asr_after)

# %% tags=["ci-only"]
assert 0.0 <= asr_after <= 1.0

# %% [markdown]
# ## Model files: a payload, scanning, safe loading, conversion
#
# `advlab.serialization.craft` inserts a payload into a checkpoint *for authorised tests*:
# here a harmless `os.system("echo ...")`. We never load it: `advlab scan` reads the pickle's
# opcodes statically and reports the call; `advlab.load_model` scans first and refuses.

# %%
from advlab import load_model
from advlab.serialization.craft import inject_payload
from advlab.serialization.safe_load import UnsafeModelError, convert
from advlab.serialization.scan import scan_file

tmp = Path(tempfile.mkdtemp())
torch.save(model.state_dict(), tmp / "clean.pt")
inject_payload(tmp / "clean.pt", tmp / "poisoned.pt", marker_path=tmp / "marker", command="echo pwned")
report = scan_file(tmp / "poisoned.pt")
for f in report.real_findings:
    print(f.severity.name, f.rule, f.message)
try:
    load_model(tmp / "poisoned.pt")
except UnsafeModelError as exc:
    print("refused:", str(exc)[:120])
print("the payload never ran:", not (tmp / "marker").exists())

# %% [markdown]
# The clean checkpoint loads through torch's weights-only unpickler after the scan, and
# converts to safetensors, a format that holds tensors and nothing else.

# %%
state = load_model(tmp / "clean.pt")
out = convert(tmp / "clean.pt", tmp / "clean.safetensors")
print(len(state), "tensors; converted to", out.name, out.stat().st_size, "bytes")

# %% [markdown]
# The lab's `backdoor`, `model_file_payload` and `naive_scanner` challenges continue from
# here.

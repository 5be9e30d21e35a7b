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
# # Module 0: introduction and threat modelling
#
# Adversarial machine learning asks what an attacker can make a model do. Before any
# attack, write down the **threat model**:
#
# * **goal**: what the attacker wants: wrong answers at test time (*evasion*), a copy of the
#   model (*extraction*), facts about the training data (*inference*), or a model that
#   misbehaves because its training data was tampered with (*poisoning*);
# * **knowledge**: what the attacker knows: everything (*white box*), the architecture or
#   the data distribution (*grey box*), nothing (*black box*);
# * **access**: what the system lets them see or touch: gradients, scores
#   (probabilities), labels only, or the training data;
# * **constraints**: how far an input may move (an $L_p$ ball of radius $\epsilon$), how
#   many queries, how many poisoned points.
#
# advlab names everything with five words: **Target** (a model plus how it can be
# reached) → **Attack** → **Result** → **Assessment** → **Report**.
#
# Run this notebook top to bottom. `ADVLAB_TUTORIAL_MODE=ci` runs it with tiny sizes.

# %%
import os

import numpy as np

CI = os.environ.get("ADVLAB_TUTORIAL_MODE", "full") == "ci"

from advlab.data import load_dataset
from advlab.models import TrainConfig, reference_model

ds = load_dataset("digits")
bundle = reference_model("digits", train=TrainConfig(epochs=8, seed=0))
print(ds.describe())

# %% [markdown]
# ## Access levels are part of the target
#
# The same model can be exposed at three access levels. A `Target` declares its `access`
# and refuses what it does not grant; every call goes through a query meter, which can
# enforce a total `query_budget`.

# %%
from advlab.errors import AccessError, BudgetExhausted
from advlab.targets import LabelsOnly

white = bundle.target(device="cpu")
black = LabelsOnly(bundle.target(device="cpu", query_budget=50))
x = ds.x_test[:20]
print("white box access:", white.access.name, "labels:", white.predict(x[:5]))
try:
    black.scores(black.check_inputs(x[:5]))
except AccessError as exc:
    print("labels-only target:", exc)
print("labels:", black.predict(x[:5]), "queries used:", black.meter.queries)
try:
    black.predict(ds.x_test[:100])
except BudgetExhausted as exc:
    print("budget:", exc)

# %% [markdown]
# ## Exercise: three attackers
#
# The lab's first challenge (`advlab lab start threat_model`) describes three attackers.
# Write each one's goal, knowledge, access and phase with the values listed in the
# handout, then grade your answer locally.

# %%
from advlab.lab import get_challenge

challenge = get_challenge("threat_model")()
handout = challenge.handout()
for key, text in handout["scenarios"].items():
    print(key, text, "\n")
print(handout["values"])

# %% tags=["solution"]
answer = {
    "A": {"goal": "evasion", "knowledge": "black_box", "access": "labels", "phase": "deployment"},
    "B": {"goal": "extraction", "knowledge": "grey_box", "access": "scores", "phase": "deployment"},
    "C": {
        "goal": "poisoning",
        "knowledge": "black_box",
        "access": "training_data",
        "phase": "training",
    },
}

# %%
import json

verdict = challenge.grade(json.dumps(answer).encode())
print(verdict.solved, verdict.reason)

# %% tags=["ci-only"]
assert verdict.solved

# %% [markdown]
# Solved locally? Earn your flag on the server: `advlab lab serve`, register on the page,
# and submit the same answer there. The flag is an HMAC of your user name: it is yours.

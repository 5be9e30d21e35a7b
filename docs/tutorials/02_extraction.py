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
# # Module 2: extraction
#
# An extraction attack copies a model through its prediction API.
#
# * **Equation solving** (Tramèr et al. 2016). A multinomial logistic regression answers
#   $p = \mathrm{softmax}(Wx + b)$. The log-ratios $\log p_k - \log p_0 = (w_k - w_0)^\top x
#   + (b_k - b_0)$ are linear in $x$: $d + 1$ well-chosen queries give $d + 1$ equations per
#   class, and the parameters follow exactly, up to the softmax's shift (only differences
#   between class rows are identifiable).
# * **Knockoff nets** (Orekondy et al. 2019). For a network, query it on data you have
#   (even from another distribution) and train your own model on its answers. The copy's
#   *fidelity* (agreement with the target) grows with the query budget.
# * **Cryptanalytic extraction** (Carlini et al. 2020) recovers a ReLU network's weights
#   from its piecewise-linear boundaries; advlab ships it as `cryptanalytic`.
#
# Defenses perturb the outputs (rounding, top-1 only, noise): they cost the honest users
# something too.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression

CI = os.environ.get("ADVLAB_TUTORIAL_MODE", "full") == "ci"

from advlab.attacks.extraction import EquationSolving, KnockoffNets
from advlab.data import load_dataset
from advlab.targets import SklearnClassifier

wine = load_dataset("wine")
lr = LogisticRegression(C=10.0, max_iter=2000).fit(wine.x_train, wine.y_train)
victim = SklearnClassifier(lr, bounds=(0.0, 1.0))

# %% [markdown]
# ## Equation solving: 15 queries for 13 features

# %%
res = EquationSolving().extract(victim, x_eval=wine.x_test, n_uniform=1000)
print("queries:", res.queries, "fidelity:", res.fidelity, "max parameter error:", res.param_error)

# %% [markdown]
# ## Output defenses and their cost
#
# Rounding the probabilities to one decimal breaks the exact equations (the attack's
# consistency check refuses the answers), while the labels honest users see do not change.

# %%
from advlab.defenses.output import Rounding
from advlab.errors import AdvlabError

rounded = Rounding(decimals=1).apply(SklearnClassifier(lr, bounds=(0.0, 1.0)))
try:
    EquationSolving().extract(rounded, n_uniform=0)
except AdvlabError as exc:
    print("refused:", str(exc)[:160])
same = (rounded.predict(wine.x_test) == victim.predict(wine.x_test)).mean()
print("labels unchanged for honest users on", same, "of the test set")

# %% [markdown]
# ## Knockoff: fidelity against the query budget
#
# The victim is the digits CNN; the attacker queries unlabelled digits and trains a small
# MLP on the answers.

# %%
from advlab.models import TrainConfig, reference_model

digits = load_dataset("digits")
cnn = reference_model("digits", train=TrainConfig(epochs=8, seed=0))
budgets = [100, 300] if CI else [100, 300, 1000]
arch = {"arch": "mlp", "in_features": 64, "num_classes": 10, "hidden": [128]}
fidelity = []
for b in budgets:
    stolen = KnockoffNets(query_budget=b, arch=arch, epochs=15 if CI else 40, seed=0).extract(
        cnn.target(device="cpu"), digits.x_train, x_eval=digits.x_test, n_uniform=0
    )
    fidelity.append(stolen.fidelity["test"])
plt.plot(budgets, fidelity, marker="o")
plt.xlabel("queries")
plt.ylabel("test fidelity")
plt.show()
print(dict(zip(budgets, np.round(fidelity, 3))))

# %% [markdown]
# ### Exercise: labels only
#
# Rerun Knockoff with the largest budget against a target that answers only labels
# (`advlab.targets.LabelsOnly`, and `use_scores=False`). Store the fidelity in
# `labels_only_fidelity`. Does losing the scores cost much?

# %% tags=["solution"]
from advlab.targets import LabelsOnly

stolen = KnockoffNets(
    query_budget=budgets[-1], arch=arch, epochs=15 if CI else 40, use_scores=False, seed=0
).extract(LabelsOnly(cnn.target(device="cpu")), digits.x_train, x_eval=digits.x_test, n_uniform=0)
labels_only_fidelity = stolen.fidelity["test"]

# %%
print("scores:", fidelity[-1], "labels only:", labels_only_fidelity)

# %% tags=["ci-only"]
assert 0.3 < labels_only_fidelity <= 1.0

# %% [markdown]
# The lab's `extraction_equations` and `extraction_knockoff` challenges run these attacks
# against the server, with budgets.

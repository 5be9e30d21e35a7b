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
# # Module 4: membership inference and inversion
#
# A membership attack decides, from a model's outputs, whether an example $(x, y)$ was in
# its training set. Models fit their training data better than unseen data, so a lower loss
# $\ell(x, y)$ suggests a member.
#
# **Score at low false-positive rates.** An attack that is right about a few members with
# certainty is a privacy failure even if its accuracy is 52%; one that is 60% accurate by
# being mildly better on average everywhere reveals little about anyone. Report the
# **true-positive rate at a low FPR** (1%, 0.1%), with the ROC on log axes (Carlini et al.
# 2022), not accuracy or AUC alone.
#
# The classroom experiment, done right:
#
# 1. **Shadow models** (Shokri et al. 2017) are trained *like the target*: same recipe, same
#    preprocessing (the data scaled the same way), data from the same distribution; an
#    attack model learns "in" vs "out" from their outputs.
# 2. **LiRA** (Carlini et al. 2022) fits, per example, Gaussians to the logit-scaled
#    confidence $\phi = \log\frac{p_y}{1-p_y}$ of reference models trained with and without
#    it, and scores a likelihood ratio.
# 3. **Defenses**: L2 regularisation narrows the generalisation gap; answering the top label
#    only removes the confidence the attacks read.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

CI = os.environ.get("ADVLAB_TUTORIAL_MODE", "full") == "ci"
N_REF = 4 if CI else 16

from advlab.attacks.inference import (
    LiRA,
    LossThreshold,
    ReferenceModels,
    ShokriAttack,
    SklearnMLPTrainer,
    collect_signals,
)
from advlab.data import load_dataset
from advlab.privacy.metrics import roc_curve, tpr_at_fpr
from advlab.targets import SklearnClassifier

ds = load_dataset("synthetic", seed=0, n_samples=600 if CI else 2000, n_features=20,
                  n_classes=10, n_informative=10)
x = np.concatenate([ds.x_train, ds.x_test])  # scaled to [0, 1] once, for every model
y = np.concatenate([ds.y_train, ds.y_test])
members = np.zeros(len(x), bool)
members[np.random.default_rng(0).permutation(len(x))[: len(x) // 2]] = True


def experiment(alpha: float) -> dict[str, object]:
    """Target and reference models with one recipe (L2 weight ``alpha``); three attacks."""
    trainer = SklearnMLPTrainer(hidden=(64,), max_iter=200 if CI else 300, lr=3e-3, alpha=alpha)
    model = trainer.fit(x[members], y[members], seed=99, num_classes=10)
    target = SklearnClassifier(model, bounds=(0.0, 1.0), device="cpu")
    ref = ReferenceModels(trainer=trainer, n_models=N_REF, seed=1).run(x, y)
    sig = collect_signals(target, x, y, reference=ref, members=members)
    out: dict[str, object] = {"model": model}
    for attack in (LossThreshold(), ShokriAttack(), LiRA()):
        out[attack.name] = attack.infer(sig, members=members)
    return out


plain = experiment(alpha=1e-4)
for name in ("loss_threshold", "shokri", "lira"):
    r = plain[name]
    print(f"{name:15s} AUC {r.auc:.3f}  TPR@1%FPR {tpr_at_fpr(r.scores, members, 0.01):.3f}")

# %% [markdown]
# The ROC on log-log axes shows where the attacks differ: at the left, low FPR.

# %%
for name in ("loss_threshold", "shokri", "lira"):
    f, t, _ = roc_curve(plain[name].scores, members)
    plt.plot(np.maximum(f, 1e-3), np.maximum(t, 1e-3), label=name)
plt.plot([1e-3, 1], [1e-3, 1], "k:", label="chance")
plt.xscale("log")
plt.yscale("log")
plt.xlabel("FPR")
plt.ylabel("TPR")
plt.legend()
plt.show()

# %% [markdown]
# ## Defense 1: L2 regularisation
#
# The references are retrained with the same regularisation: shadows must be trained like
# the target, or the attack measures the wrong model.

# %%
l2 = experiment(alpha=1.0)
for name in ("loss_threshold", "lira"):
    before = tpr_at_fpr(plain[name].scores, members, 0.01)
    after = tpr_at_fpr(l2[name].scores, members, 0.01)
    print(f"{name:15s} TPR@1%FPR {before:.3f} -> {after:.3f} with L2")
acc = {k: float((v["model"].predict(x[~members]) == y[~members]).mean()) for k, v in (("plain", plain), ("l2", l2))}
print("test accuracy:", acc)

# %% [markdown]
# ## Defense 2: answer the top label only
#
# With labels only, the best score-free attack is "correctly classified ⇒ member" (the gap
# attack): its TPR at a low FPR is no better than the FPR, because many non-members are
# classified correctly too. (Label-only attacks that probe the decision boundary,
# `label_only_boundary` in advlab, recover some signal at a cost in queries.)

# %% [markdown]
# ### Exercise: the gap attack
#
# Score each example 1 if the plain target classifies it correctly, else 0; store the
# scores in `gap_scores` and compare its TPR at 1% FPR with LiRA's.

# %% tags=["solution"]
gap_scores = (plain["model"].predict(x) == y).astype(float)

# %%
print("gap attack TPR@1%FPR:", tpr_at_fpr(gap_scores, members, 0.01),
      "LiRA:", tpr_at_fpr(plain["lira"].scores, members, 0.01))

# %% tags=["ci-only"]
assert gap_scores.shape == (len(x),)

# %% [markdown]
# The lab's `membership` challenge grades you at 5% FPR against a server with a query
# budget. Model inversion (MIFace) and attribute inference are in
# `advlab.attacks.inference` too.

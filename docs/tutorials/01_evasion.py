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
# # Module 1: evasion
#
# An evasion attack moves a test input $x$ (label $y$) to $x'$ inside a ball
# $\|x' - x\|_p \le \epsilon$ and the data range, so that the model errs. For a loss $L$:
#
# * **FGSM** (Goodfellow et al. 2015) takes one step of size $\epsilon$ along the sign of
#   the gradient: $x' = \mathrm{clip}(x + \epsilon\,\mathrm{sign}\,\nabla_x L(f(x), y))$.
# * **PGD** (Madry et al. 2018) takes many smaller steps, projecting back on the ball each
#   time: $x_{t+1} = \Pi_{B_\epsilon(x)}\big(x_t + \alpha\,\mathrm{sign}\,\nabla_x L\big)$,
#   from a random start.
# * **AutoAttack** (Croce and Hein 2020) runs a parameter-free ensemble (APGD-CE, APGD-T,
#   FAB-T, Square): a standard for reporting robust accuracy.
#
# **Robust accuracy** at $\epsilon$ is the share of points still classified correctly after
# the attack: an upper bound on the truth, only as good as the attack.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

CI = os.environ.get("ADVLAB_TUTORIAL_MODE", "full") == "ci"
N = 12 if CI else 200

from advlab.attacks.evasion import FGSM, PGD, AutoAttack, Square
from advlab.data import load_dataset
from advlab.models import TrainConfig, reference_model

ds = load_dataset("digits")
bundle = reference_model("digits", train=TrainConfig(epochs=8, seed=0))
target = bundle.target(device="cpu")
x, y = ds.x_test[:N], ds.y_test[:N]

# %% [markdown]
# ## FGSM, PGD and AutoAttack, one $\epsilon$ curve each
#
# `sweep` attacks larger radii only on points still robust at smaller ones, so the curves
# never go up.

# %%
eps = [0.05, 0.1, 0.15, 0.2]
curves = {
    "FGSM": FGSM(eps=0.1).sweep(target, x, y, eps=eps).robust_accuracy,
    "PGD": PGD(eps=0.1, steps=10 if CI else 40).sweep(target, x, y, eps=eps).robust_accuracy,
}
aa = AutoAttack(eps=0.1, version="fast" if CI else "standard").run(target, x, y)
for name, ra in curves.items():
    plt.plot(eps, ra, marker="o", label=name)
plt.scatter([0.1], [aa.robust_accuracy], color="k", label="AutoAttack", zorder=3)
plt.xlabel("eps (L-inf)")
plt.ylabel("robust accuracy")
plt.legend()
plt.show()
print({k: [round(v, 2) for v in ra] for k, ra in curves.items()}, "AutoAttack:", aa.robust_accuracy)

# %% [markdown]
# PGD is at least as strong as FGSM at every radius, AutoAttack at least as strong as PGD.
# An adversarial example looks like this:

# %%
res = PGD(eps=0.2, steps=20).run(target, x[:6], y[:6])
adv = res.x_adv.cpu().numpy()
fig, axes = plt.subplots(2, 6, figsize=(9, 3))
for i in range(6):
    axes[0, i].imshow(x[i, 0], cmap="gray", vmin=0, vmax=1)
    axes[1, i].imshow(adv[i, 0], cmap="gray", vmin=0, vmax=1)
    axes[1, i].set_title(f"-> {target.predict(adv[i:i+1])[0]}", fontsize=8)
    axes[0, i].axis("off")
    axes[1, i].axis("off")
plt.show()

# %% [markdown]
# ## Adversarial training
#
# Madry et al. train on PGD examples: $\min_\theta \mathbb{E}\,\max_{\|\delta\|\le\epsilon}
# L(f_\theta(x+\delta), y)$. In advlab it is a training option.

# %%
cfg = TrainConfig(
    epochs=1 if CI else 20, adversarial="pgd", adv_eps=0.1, adv_steps=2 if CI else 10, seed=0
)
robust = reference_model("digits", train=cfg).target(device="cpu")
pgd = PGD(eps=0.1, steps=10 if CI else 40)
print("standard:", pgd.run(target, x, y).robust_accuracy, "adversarially trained:", pgd.run(robust, x, y).robust_accuracy)

# %% [markdown]
# ## How evaluations fail: gradient masking
#
# Bit-depth reduction rounds every pixel to a few levels. Its gradient is zero almost
# everywhere, so PGD "fails" and the defense looks robust. Two signs give it away, and
# advlab's sanity checks look for both: a black-box attack (Square, no gradients) beats the
# white-box one, and a larger $\epsilon$ does not help the white-box attack. The fix is an
# adaptive attack: BPDA (Athalye et al. 2018) uses the identity as the quantiser's
# gradient.

# %%
from advlab.defenses.transforms import BitDepthReduction

masked = BitDepthReduction(bits=2).apply(target)
print("PGD through the defense:", PGD(eps=0.25, steps=20).run(masked, x, y).robust_accuracy)
print(
    "Square, no gradients:",
    Square(eps=0.25, max_queries=60 if CI else 1000, seed=0).run(masked, x, y).robust_accuracy,
)

# %% [markdown]
# ### Exercise: break the defense with BPDA
#
# Build the same defense with straight-through gradients and run PGD through it; store the
# robust accuracy (measured on the real defense) in `bpda_robust_accuracy`.

# %% tags=["solution"]
adaptive = BitDepthReduction(bits=2, bpda=True).apply(target)
x_adv = PGD(eps=0.25, steps=20 if CI else 40, restarts=2).run(adaptive, x, y).x_adv
bpda_robust_accuracy = float((masked.predict(x_adv) == y).mean())

# %%
print("robust accuracy under BPDA:", bpda_robust_accuracy)

# %% tags=["ci-only"]
assert bpda_robust_accuracy < 0.5

# %% [markdown]
# The lab's `masked_gradients` challenge asks for exactly this, against the server. Malware
# classifiers are evaded under other constraints (bytes that keep a program working): the
# next tutorial, `01b_malware`, attacks them with harmless files.

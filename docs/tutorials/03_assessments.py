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
# # Module 3: assessments
#
# One attack run answers one question. An **assessment** answers "is this model robust
# enough, under this threat model?": a config names the targets (and defended variants),
# the data, the threat model (goal, knowledge, access, budget, perturbation), the attacks
# (or the recommended suite for the threat model) and **gates**, the pass/fail criteria
# that a CI pipeline enforces. The runner writes a run directory (resumable); reports (HTML,
# Markdown, JUnit, SARIF) are renderings of it.
#
# Before any gate, **sanity checks** ask whether the evaluation itself can be trusted: an
# attack with an unbounded budget must reach chance, iterative attacks must beat one-step
# ones, gradients must not vanish. When a check fails, the verdict is INCONCLUSIVE (exit
# code 5), not PASS.

# %%
import os
import tempfile
from pathlib import Path

import yaml

CI = os.environ.get("ADVLAB_TUTORIAL_MODE", "full") == "ci"
N = 20 if CI else 200

from advlab.assess import run_assessment

config = {
    "version": 1,
    "name": "digits-tutorial",
    "targets": [{"kind": "reference", "name": "standard", "dataset": "digits", "train": {"epochs": 8}}],
    "defenses": [{"name": "bit_depth", "params": {"bits": 2}}],
    "data": {"dataset": "digits", "split": "test", "n": N, "seed": 0},
    "threat_model": {
        "goal": "evasion",
        "knowledge": "white-box",
        "access": "gradients",
        "perturbation": {"norm": "linf", "eps": [0.1, 0.2]},
    },
    "attacks": ["fgsm", {"name": "pgd", "params": {"steps": 10 if CI else 40}}],
    "gates": ["robust_accuracy(linf, 0.1) >= 0.5"],
    "seed": 0,
}
print(yaml.safe_dump(config, sort_keys=False))

# %% [markdown]
# The same file runs from the command line: `advlab assess config.yaml --out runs/a`, then
# `advlab report runs/a --format html`.

# %%
work = Path(tempfile.mkdtemp())
outcome = run_assessment(config, work / "run")
r = outcome.results
print("exit code:", outcome.exit_code, "verdict:", r["verdict"])
print(r["verdict_reason"][:300])
for g in r["gates"]:
    print(g["gate"], "->", g["per_target"])

# %% [markdown]
# The gate "passes" for the bit-depth variant (robust accuracy 1.0 under PGD), and that is
# exactly why the verdict is INCONCLUSIVE: the sanity checks saw the symptoms of masked
# gradients.

# %%
for s in r["sanity"]:
    print(f"{s['id']} {s['check']:24s} {s['severity']:8s} {s['variant']}: {s['detail'][:90]}")

# %% [markdown]
# ### Exercise: an adaptive evaluation
#
# Make the evaluation adaptive: the `bit_depth` defense takes `bpda: true` (straight-through
# gradients, BPDA). Copy the config, turn BPDA on, run it into another folder and store the
# outcome's results in `adaptive`.

# %% tags=["solution"]
import copy

cfg2 = copy.deepcopy(config)
cfg2["defenses"][0]["params"]["bpda"] = True
adaptive = run_assessment(cfg2, work / "run-bpda").results

# %%
before = r["gates"][0]["per_target"]["standard+bit_depth"]
after = adaptive["gates"][0]["per_target"]["standard+bit_depth"]
print("bit-depth robust accuracy at eps 0.1: PGD", before, "-> BPDA", after)
print("verdict:", adaptive["verdict"], "| sanity:", adaptive["sanity_counts"])

# %% tags=["ci-only"]
assert after < before

# %% [markdown]
# ## Gates in CI, and making assessments fast
#
# `advlab assess` exits 0 (PASS), 1 (a gate failed), 5 (INCONCLUSIVE): a CI job fails on
# anything but 0. Runs resume (`--resume` reuses finished tasks), run tasks in parallel
# (`executor: {name: processes, workers: N}`), and `sweep` attacks larger radii only on
# points still robust at smaller ones. Reports render from the run directory alone.

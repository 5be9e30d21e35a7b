"""How the version-1 run directories beside this file were made (kept for the record).

They were written by advlab's runner before the run-directory schema had a version 2
(commit e467b3a), with::

    ADVLAB_CACHE=/tmp/cache PYTHONPATH=src:tests/assess python make_legacy_runs.py OUT

then ``OUT/{evasion-run,inference-run,evasion.yaml,inference.yaml}`` were copied here.
Running it with a newer advlab writes the newer schema, so do not regenerate them: they are
the fixture that proves newer versions still read (and never rewrite) old run directories.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from assess_helpers import save_tiny_model

from advlab.assess import run_assessment

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
model = save_tiny_model(out / "tiny.safetensors")
ev = {
    "name": "legacy-evasion",
    "targets": [{"kind": "model", "name": "tiny", "path": "tiny.safetensors", "device": "cpu"}],
    "defenses": [{"name": "bit_depth", "params": {"bits": 3}}],
    "data": {"dataset": "digits", "n": 12, "seed": 0},
    "threat_model": {"perturbation": {"norm": "linf", "eps": [0.05, 0.2], "immutable": [0, 1]}},
    "attacks": [
        "fgsm",
        {"name": "pgd", "params": {"steps": 5}},
        {"name": "objective", "params": {"max_queries": 20, "optimiser": "random"}},
    ],
    "gates": [
        "robust_accuracy(linf, 0.2) >= 0.95",
        "clean_accuracy >= 0.5",
        "metric(queries, attack=objective) <= 100000",
    ],
    "sanity": {"extra_attacks": True},
    "seed": 0,
    "reports": ["html", "md", "json", "junit", "sarif"],
}
(out / "evasion.yaml").write_text(yaml.safe_dump(ev, sort_keys=False))
run_assessment(out / "evasion.yaml", out / "evasion-run")
inf = {
    "name": "legacy-inference",
    "targets": [{"kind": "model", "name": "tiny", "path": "tiny.safetensors", "device": "cpu"}],
    "data": {"dataset": "digits", "n": 12, "seed": 0},
    "threat_model": {"goal": "inference", "access": "scores"},
    "attacks": ["loss-threshold"],
    "gates": ["metric(auc) >= 0.4"],
    "seed": 0,
    "reports": ["html", "md", "json", "junit", "sarif"],
}
(out / "inference.yaml").write_text(yaml.safe_dump(inf, sort_keys=False))
run_assessment(out / "inference.yaml", out / "inference-run")

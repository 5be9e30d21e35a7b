"""The default assessment behind ``advlab demo``: embedded digits, a standard and a
PGD-adversarially-trained SmallCNN (cached reference models), a bit-depth-reduced variant of
the standard model (which masks gradients: the sanity checks flag it), a suite of evasion
attacks at a few eps, the run directory and the HTML report.

The demo's verdict is INCONCLUSIVE on purpose: the bit-depth variant masks gradients, its
findings are evaluation-invalidating and the demo config does not accept them (a real
assessment would fix the evaluation, e.g. ``bpda: true``, or accept each check with a reason
under ``sanity.accept``). The config is written into the run directory
(:data:`CONFIG_NAME`) and run from there, so the SARIF findings point at a real file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from advlab.assess.build import ensure_registry
from advlab.assess.config import AssessmentConfig, parse_config
from advlab.models.zoo import REFERENCE_TRAIN

log = logging.getLogger(__name__)

CONFIG_NAME = "demo-config.yaml"
CONFIG_HEADER = """\
# The config of `advlab demo`, written by it into its run directory and run from here.
# The standard+bit-depth variant masks gradients (a non-differentiable quantisation): the
# sanity checks flag it as evaluation-invalidating and this config does not accept that, so
# the verdict is INCONCLUSIVE by design. To accept it instead, add for example:
#   sanity: {accept: [{check: zero-gradients, variant: standard+bit-depth, reason: "..."}]}
"""

STANDARD_TRAIN: dict[str, Any] = dict(REFERENCE_TRAIN)  # reference_model("digits")'s model
ADVERSARIAL_TRAIN: dict[str, Any] = {
    "epochs": 6,
    "batch_size": 64,
    "adversarial": "pgd",
    "adv_eps": 0.1,
    "adv_steps": 3,
}


def demo_config(*, device: str = "auto", seed: int = 0, quick: bool = False) -> AssessmentConfig:
    """The demo's config (uses the attacks and defenses registered at run time)."""
    from advlab.registry import ATTACKS, DEFENSES

    ensure_registry()
    workers = 1 if quick else min(2, os.cpu_count() or 1)
    attacks: list[dict[str, Any]] = [{"name": "fgsm"}, {"name": "pgd", "params": {"steps": 20}}]
    if "apgd" in ATTACKS:
        attacks.append({"name": "apgd", "params": {"steps": 10 if quick else 20}})
    if "square" in ATTACKS and "max_queries" in ATTACKS["square"]._param_names():
        attacks.append({"name": "square", "params": {"max_queries": 50 if quick else 100}})
    if "autoattack" in ATTACKS:
        attacks.append(
            {
                "name": "autoattack",
                "params": {
                    "version": "fast",
                    "steps": 10,
                    "n_target_classes": 2,
                    "max_queries": 50,
                },
            }
        )
    defenses = []
    bit = next((n for n in ("bit_depth", "bit-depth") if n in DEFENSES), None)
    if bit is not None:
        defenses.append(
            {
                "name": bit,
                "params": {"bits": 2},
                "label": "standard+bit-depth",
                "targets": ["standard"],
            }
        )
    data = {
        "name": "demo-digits",
        "targets": [
            {
                "kind": "reference",
                "name": "standard",
                "dataset": "digits",
                "train": STANDARD_TRAIN,
                "device": device,
            },
            {
                "kind": "reference",
                "name": "adv-trained",
                "dataset": "digits",
                "train": ADVERSARIAL_TRAIN,
                "device": device,
            },
        ],
        "defenses": defenses,
        "data": {"dataset": "digits", "split": "test", "n": 40 if quick else 100, "seed": 0},
        "threat_model": {
            "goal": "evasion",
            "knowledge": "white-box",
            "access": "gradients",
            "perturbation": {"norm": "linf", "eps": [0.05, 0.1, 0.2]},
        },
        "attacks": attacks,
        "gates": [
            "robust_accuracy(linf, 0.1, target=adv-trained) >= 0.5",
            "clean_accuracy(target=standard) >= 0.9",
        ],
        "seed": seed,
        "executor": {"name": "processes", "workers": 2} if workers > 1 else {"name": "serial"},
    }
    return parse_config(data, source="demo")


def run_demo(out: Path, *, device: str = "auto", seed: int = 0, quick: bool = False) -> Path:
    """Run the demo assessment into ``out`` (resuming it when it exists); returns the path
    of ``report.html``."""
    from advlab.assess.runner import load_records, run_assessment

    cfg = demo_config(device=device, seed=seed, quick=quick)
    existing, _ = load_records(Path(out))
    path = write_demo_config(cfg, Path(out))
    outcome = run_assessment(path, out, resume=bool(existing))
    log.info("demo: %d tasks (%d reused) in %s", outcome.planned, outcome.reused, outcome.run_dir)
    res = outcome.results
    if res.get("verdict") == "INCONCLUSIVE":
        log.warning(
            "demo verdict INCONCLUSIVE, by design: %s (the standard+bit-depth variant masks "
            "gradients; see the comment at the top of %s)",
            res.get("verdict_reason"),
            path,
        )
    return outcome.run_dir / "report.html"


def write_demo_config(cfg: AssessmentConfig, folder: Path) -> Path:
    """Write the demo config (every value, defaults included, with a comment
    saying why the verdict is INCONCLUSIVE) to ``folder/demo-config.yaml``."""
    import yaml

    from advlab.assess.rundir import atomic_write

    folder.mkdir(parents=True, exist_ok=True)
    data = cfg.model_dump(mode="json")
    path = folder / CONFIG_NAME
    atomic_write(path, CONFIG_HEADER + yaml.safe_dump(data, sort_keys=False))
    return path

"""The one fixed vocabulary of plugin metadata: families, tags and capability flags.

Every plugin declares its ``family``, a set of ``tags`` (``axis:value`` strings from
:data:`TAGS`) and a set of capability ``flags`` (from :data:`FLAGS`). Assessments, suites,
sanity checks and the conformance kit read these instead of lists of names.
"""

from __future__ import annotations

FAMILIES: dict[str, str] = {
    "evasion": "perturbs inputs so that the model errs (test time)",
    "extraction": "steals a model's function or parameters through its API",
    "inference": "learns what a model leaks about its training data (membership, attributes, inversion)",
    "poisoning": "changes the training data or process",
    "defense": "makes a target, a training run or a dataset harder to attack",
    "lm": "attacks a language model itself: forced outputs, memorisation, membership, stealing",
    "probe": "sends crafted prompts to a language-model application",
    "detector": "scores a language-model response (did the attack work?)",
    "transform": "rewrites a prompt (encodings, paraphrases, obfuscation)",
    "challenge": "a graded exercise of the lab",
}

TAGS: dict[str, tuple[str, ...]] = {
    "threat": ("evasion", "extraction", "inference", "poisoning", "llm", "model_file"),
    "access": ("gradients", "scores", "labels", "none", "training", "data"),
    "norm": ("linf", "l2", "l1", "l0", "any"),
    "modality": ("image", "tabular", "text", "binary", "any"),
}
"""Tag axes and their allowed values; a tag is written ``"axis:value"``."""

FLAGS: dict[str, str] = {
    "iterative": "runs a number of steps (``steps`` or a query budget) that the kit may shrink",
    "minimal_norm": "finds the smallest perturbation; ``eps`` may be None",
    "randomized": "results depend on ``seed``",
    "targeted": "supports targeted attacks",
    "query_based": "needs only queries to the target (black box)",
    "needs_surrogate": "needs a surrogate model (transfer attacks)",
    "needs_reference_models": "trains reference or shadow models",
    "needs_data": "needs the attacker's own data",
    "wraps_target": "a defense that returns a wrapped target (Defense.apply)",
    "training_time": "a defense applied while training",
    "data_level": "works on a dataset (poison detectors, sanitisers)",
    "ensemble": "runs several attacks",
}

TAG_AXES = tuple(TAGS)


def check_tag(tag: str) -> None:
    """Raise ValueError unless ``tag`` is ``axis:value`` from :data:`TAGS`."""
    axis, _, value = tag.partition(":")
    if axis not in TAGS or value not in TAGS[axis]:
        allowed = ", ".join(f"{a}:{v}" for a in TAGS for v in TAGS[a])
        raise ValueError(f"unknown tag {tag!r}; allowed: {allowed}")


def check_flag(flag: str) -> None:
    if flag not in FLAGS:
        raise ValueError(f"unknown flag {flag!r}; allowed: {', '.join(sorted(FLAGS))}")

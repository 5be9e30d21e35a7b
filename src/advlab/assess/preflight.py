"""Checks ``advlab validate`` runs beyond the schema: names, parameters, paths, gates.

:func:`preflight` resolves every name a config uses (datasets, attacks, defenses, the targets
gates and defenses refer to), builds every attack and defense with its parameters and runs the
plugin's own validation (:meth:`advlab.plugin.Plugin.check_params`), checks training options,
and checks that model and data files exist and load (advlab model files load without running
code: safetensors + JSON). It never trains, attacks or contacts a server.

Python targets (``kind: python``) are code: the assessment imports their module and calls the
entry. ``preflight`` reports that and imports nothing unless ``probe=True`` (``advlab validate
--probe``), which imports the entry and checks it returns a Target.

:func:`describe_targets` says what each target is: file targets (advlab, ONNX, Keras, Hugging
Face) are loaded, which runs no code; with ``probe=True`` every target, python and HTTP ones
included, is built and sent one data point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advlab.assess.config import (
    AssessmentConfig,
    EntryPointTarget,
    HttpTarget,
    HuggingFaceTarget,
    KerasTarget,
    ModelFileTarget,
    OnnxTarget,
    ReferenceTarget,
)
from advlab.errors import AdvlabError, ConfigError


def _dataset_problem(name: str, config_dir: Path, where: str) -> str | None:
    from advlab.assess.build import ensure_registry, resolve_path
    from advlab.registry import get_dataset

    p = resolve_path(name, config_dir)
    if p.suffix in (".npz", ".csv") or p.exists() or "/" in name:
        if not p.exists():
            return f"{where}: data file not found: {p}"
        return None
    ensure_registry()
    try:
        get_dataset(name)
    except (AdvlabError, KeyError) as exc:
        return f"{where}: {exc}"
    return None


def _plugin_problem(cls: Any, params: dict[str, Any], where: str) -> str | None:
    try:
        obj = cls(**params)
        check = getattr(obj, "check_params", None)
        if check is not None:
            check()
    except AdvlabError as exc:
        return f"{where}: {exc}"
    except (TypeError, ValueError) as exc:
        return f"{where}: {type(exc).__name__}: {exc}"
    return None


def _target_problems(cfg: AssessmentConfig, config_dir: Path, probe: bool) -> list[str]:
    from advlab.assess.build import _build_base, resolve_path
    from advlab.models import TrainConfig, load_bundle

    problems: list[str] = []
    for i, t in enumerate(cfg.targets):
        where = f"targets.{i}"
        if isinstance(t, (KerasTarget, HuggingFaceTarget)):
            p = resolve_path(t.path, config_dir)
            if not p.exists():
                problems.append(f"{where}.path: not found: {p}")
        elif isinstance(t, (ModelFileTarget, OnnxTarget)):
            p = resolve_path(t.path, config_dir)
            if not p.is_file():
                problems.append(f"{where}.path: file not found: {p}")
            elif isinstance(t, ModelFileTarget):
                try:
                    load_bundle(p)
                except AdvlabError as exc:
                    problems.append(f"{where}.path: {exc}")
        elif isinstance(t, ReferenceTarget):
            if (msg := _dataset_problem(t.dataset, config_dir, f"{where}.dataset")) is not None:
                problems.append(msg)
            try:
                TrainConfig(**t.train).validate()
            except AdvlabError as exc:
                problems.append(f"{where}.{exc}")
        elif isinstance(t, EntryPointTarget) and probe:
            try:
                _build_base(t, config_dir)
            except AdvlabError as exc:
                problems.append(f"{where}.entry: {exc}")
    return problems


def _gate_problems(cfg: AssessmentConfig) -> list[str]:
    from advlab.assess.gates import parse_gate
    from advlab.assess.task_base import variants

    labels = {v.label for v in variants(cfg)}
    attacks = {a.display for a in cfg.attacks or []}
    probes: set[str] = set()
    if cfg.threat_model.goal == "llm" and cfg.llm is not None:
        from advlab.assess.task_llm import LLMKind

        labels |= {v.label for v, _ in LLMKind().llm_variants(cfg)}
        probes = {x for p in LLMKind().probes(cfg) for x in (p.name, p.display)}
    problems = []
    for i, text in enumerate(cfg.gates):
        gate = parse_gate(text)
        probe = gate.args.get("probe")
        if gate.metric == "attack_success" and probe is not None and probe not in probes:
            problems.append(
                f"gates.{i}: no probe named {probe!r} in llm.probes; probes: "
                f"{', '.join(sorted(probes)) or 'none (goal is not llm)'}"
            )
        target = gate.args.get("target")
        if target is not None and target not in labels:
            problems.append(
                f"gates.{i}: no target or defended variant named {target!r}; "
                f"known: {', '.join(sorted(labels))}"
            )
        attack = gate.args.get("attack")
        if attack is not None and cfg.attacks is not None and attack not in attacks:
            problems.append(
                f"gates.{i}: no attack labelled {attack!r}; attacks: {', '.join(sorted(attacks))}"
            )
    return problems


def preflight(cfg: AssessmentConfig, config_dir: str | Path, *, probe: bool = False) -> list[str]:
    """Check ``cfg`` as described in the module docstring; raises :class:`ConfigError`
    listing every problem. Returns notes to show the user (python targets are imported)."""
    from advlab.assess.build import attack_class, defense_class
    from advlab.assess.task_inference import privacy_problems

    cdir = Path(config_dir)
    problems: list[str] = []
    if (msg := _dataset_problem(cfg.data.dataset, cdir, "data.dataset")) is not None:
        problems.append(msg)
    problems += _target_problems(cfg, cdir, probe)
    for i, a in enumerate(cfg.attacks or []):
        try:
            cls = attack_class(a.name)
        except (AdvlabError, KeyError):
            continue  # check_config reports unknown names
        if (msg := _plugin_problem(cls, a.params, f"attacks.{i}.params")) is not None:
            problems.append(msg)
    for i, d in enumerate(cfg.defenses):
        try:
            dcls = defense_class(d.name)
        except (AdvlabError, KeyError):
            continue
        if (msg := _plugin_problem(dcls, d.params, f"defenses.{i}.params")) is not None:
            problems.append(msg)
    problems += _gate_problems(cfg)
    problems += privacy_problems(cfg, cdir)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return [
        f"targets.{i}: python target {t.entry!r} will be imported and called by the "
        f"assessment (its code runs with your permissions)"
        + ("; imported and checked" if probe else "; not imported here (use --probe)")
        for i, t in enumerate(cfg.targets)
        if isinstance(t, EntryPointTarget)
    ]


def describe_targets(cfg: AssessmentConfig, config_dir: str | Path, *, probe: bool) -> list[str]:
    """One line per target: input shape, classes, access (and one query's answer with
    ``probe``). Targets that are code or a server are only described with ``probe``."""
    from advlab.assess.build import _build_base, load_points

    lines: list[str] = []
    x0 = None
    for i, t in enumerate(cfg.targets):
        label = f"targets.{i} ({t.name or t.default_name()})"
        code_or_server = isinstance(t, (EntryPointTarget, HttpTarget))
        if code_or_server and not probe:
            continue
        if isinstance(t, ReferenceTarget) and not probe:
            lines.append(f"{label}: trained from {t.dataset} when the assessment runs")
            continue
        try:
            target = _build_base(t, config_dir)
            shape = tuple(target.input_shape)
            line = (
                f"{label}: input {shape}, {target.num_classes} classes, "
                f"access {target.access.name.lower()}"
            )
            if probe:
                if x0 is None:
                    x0 = load_points(cfg, config_dir).x[:1]
                answer = target.predict(x0)
                line += f"; one query answered label {int(answer[0])}"
        except AdvlabError as exc:
            raise ConfigError(f"{label}: {exc}") from exc
        lines.append(line)
    return lines

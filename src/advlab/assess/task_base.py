"""What every task kind shares: variants, task keys and seeds, the :class:`TaskKind` base.

A :class:`~advlab.assess.rundir.Task` is plain data keyed by the content hash of everything
that determines its numbers (target spec and file fingerprint, defense, attack and
parameters, eps, data, threat model, seed), so a resumed run recognises finished work and a
changed config recomputes it.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from advlab.access import Access
from advlab.assess.build import variant_target
from advlab.assess.config import AssessmentConfig, DefenseSpec
from advlab.assess.rundir import NotApplicable, Reference, Role, Task
from advlab.errors import ConfigError
from advlab.utils import stable_hash

RUNNER_VERSION = 1


def task_key(content: dict[str, Any]) -> str:
    return stable_hash({"runner": RUNNER_VERSION, **content}, length=20)


def task_seed(key: str) -> int:
    return int(key[:8], 16)


def flags_of(cls: type[Any]) -> frozenset[str]:
    """A plugin's capability flags (``iterative``, ``minimal_norm``, ...); none when the
    class declares none."""
    return frozenset(getattr(cls, "flags", frozenset()))


def requires_of(cls: type[Any]) -> str:
    return Access(getattr(cls, "requires", Access.LABELS)).name.lower()


@dataclass
class Variant:
    label: str
    target: str
    defense: DefenseSpec | None


def variants(cfg: AssessmentConfig) -> list[Variant]:
    """Every target undefended, then each defended variant."""
    out = [Variant(str(t.name), str(t.name), None) for t in cfg.targets]
    for d in cfg.defenses:
        for t in cfg.targets:
            if d.targets is not None and t.name not in d.targets:
                continue
            label = d.label or f"{t.name}+{d.name}"
            if d.label and (d.targets is None or len(d.targets) != 1) and len(cfg.targets) > 1:
                label = f"{t.name}+{d.label}"
            out.append(Variant(label, str(t.name), d))
    return out


def make_task(
    common: dict[str, Any],
    v: Variant,
    *,
    kind: str,
    role: Role,
    label: str,
    name: str,
    params: dict[str, Any],
    eps: float | None = None,
    norm: str = "",
    requires: str = "labels",
    reference: Reference | None = None,
    flags: Iterable[str] = (),
) -> Task:
    """A task whose key hashes ``common`` plus everything that is specific to it."""
    content = {**common, "kind": kind, "role": role.value, "attack": name, "label": label}
    content["params"] = params
    if kind == "evasion":
        content.update(eps=eps, norm=norm)
    key = task_key(content)
    return Task(
        key=key,
        kind=kind,
        role=role,
        reference=reference,
        target=v.target,
        variant=v.label,
        defense=common["defense"],
        attack=label,
        attack_name=name,
        params=params,
        eps=eps,
        norm=norm,
        seed=task_seed(key),
        requires=requires,
        flags=sorted(flags),
    )


def defense_of(task: Task) -> DefenseSpec | None:
    return None if task.defense is None else DefenseSpec.model_validate(task.defense)


class TaskKind:
    """Plans, recommends a suite for, and executes the tasks of one goal."""

    goal: ClassVar[str] = ""
    verb: ClassVar[str] = ""
    probes_targets: ClassVar[bool] = True
    """Whether the runner sends each target one query on the data before the tasks run."""

    def default_suite(self, cfg: AssessmentConfig) -> list[tuple[str, dict[str, Any]]]:
        """The recommended (name, params) for the threat model, read from the plugins' own
        metadata: every attack of the goal's family whose ``suite_params`` name the threat
        model's access level (and whose ``requires`` it allows), single-step before
        iterative attacks, stronger access first, then by name."""
        from advlab.registry import all_attacks

        access = Access.parse(cfg.threat_model.access)
        level = cfg.threat_model.access
        chosen = [
            cls
            for cls in all_attacks(self.goal).values()
            if level in cls.suite_params and cls.requires <= access
        ]
        chosen.sort(key=lambda c: (-int(c.requires), "iterative" in c.flags, c.name))
        return [(c.name, dict(c.suite_params[level])) for c in chosen]

    def plan(self, cfg: AssessmentConfig, fingerprints: dict[str, str]) -> list[Task]:
        raise NotImplementedError  # pragma: no cover - abstract

    def not_applicable(self, cfg: AssessmentConfig) -> list[NotApplicable]:
        """Sanity checks the plan leaves out, with the reason (none by default)."""
        return []

    def prepare(
        self, cfg: AssessmentConfig, config_dir: str, tasks: list[Task], executor: Any
    ) -> None:
        """Shared work of the ``tasks`` about to run, done once in the runner's process
        through ``executor`` (e.g. reference models); nothing by default."""

    def min_queries_per_point(self, attack: Any) -> int | None:
        return None

    def execute(self, task: Task, cfg: AssessmentConfig, config_dir: str) -> dict[str, Any]:
        raise NotImplementedError  # pragma: no cover - abstract

    def execute_in(
        self, task: Task, cfg: AssessmentConfig, config_dir: str, run_dir: str | None
    ) -> dict[str, Any]:
        """:meth:`execute` with the run directory, for kinds that keep per-task state there
        (the LLM kind's request journal); the others ignore it."""
        return self.execute(task, cfg, config_dir)

    # shared --------------------------------------------------------------
    def common_content(self, cfg: AssessmentConfig, v: Variant, fp: str) -> dict[str, Any]:
        spec = next(t for t in cfg.targets if t.name == v.target)
        tm = cfg.threat_model
        return {
            "target": spec.model_dump(mode="json"),
            "fingerprint": fp,
            "defense": None if v.defense is None else v.defense.model_dump(mode="json"),
            "data": cfg.data.model_dump(mode="json"),
            "seed": cfg.seed,
            "threat": {
                "access": tm.access,
                "budget": tm.query_budget.per_point,
                "targeted": tm.targeted,
                "bounds": tm.perturbation.bounds,
                "immutable": tm.perturbation.immutable,
            },
        }

    def attacks(self, cfg: AssessmentConfig) -> list[tuple[str, str, dict[str, Any]]]:
        if cfg.attacks is None:
            return [(n, n, p) for n, p in self.default_suite(cfg)]
        return [(a.display, a.name, dict(a.params)) for a in cfg.attacks]


def bind_call(fn: Any, available: dict[str, Any]) -> Any:
    """Call ``fn`` with the arguments it names, taken from ``available``."""
    sig = inspect.signature(fn)
    kwargs = {}
    for name, p in sig.parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if name in available:
            kwargs[name] = available[name]
        elif p.default is inspect.Parameter.empty:
            raise ConfigError(
                f"cannot call {getattr(fn, '__qualname__', fn)}: no value for its argument "
                f"{name!r} (the assessment provides {', '.join(sorted(available))})"
            )
    return fn(**kwargs)


def resolve_params(
    cls: type[Any], params: dict[str, Any], cfg: AssessmentConfig, config_dir: str
) -> dict[str, Any]:
    """Parameters naming a target (``surrogate: standard``) become that target (full access)."""
    out = dict(params)
    for k, v in params.items():
        if k in ("surrogate", "surrogates") and isinstance(v, str):
            if v not in cfg.target_names():
                raise ConfigError(
                    f"attack {cls.__name__}: {k} {v!r} is not a target of this config; "
                    f"targets: {', '.join(cfg.target_names())}"
                )
            out[k] = variant_target(cfg, v, None, config_dir, reduce_access=False)
    return out

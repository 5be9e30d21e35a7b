"""The run directory: a typed, versioned record written by the runner and only read afterwards.

Layout::

    RUN_DIR/run.json          RunMeta: resolved config, planned tasks, environment (written first)
    RUN_DIR/tasks/<key>.json  TaskRecord: one per finished task, written atomically by the worker
    RUN_DIR/results.json      RunResults: every record plus the sanity warnings and gate verdicts,
                              computed once by the runner when the run ends
    RUN_DIR/report.*          renderings made by the runner (html, md, junit.xml, report.sarif)

Who writes what: the runner writes ``run.json`` and ``results.json``, its workers write the
task records, and the runner renders the reports of the config's ``reports`` list at the end.
Everything else (``advlab report``, :func:`load_results`) only reads: nothing here re-runs a
sanity check or a gate, and nothing writes into an existing run directory.

Schema versions: 1 (advlab up to the typed run directory: sanity tasks named by their label,
the query log of ``objective`` beside the result, immutable features reset after the
attack), 2 (typed roles, ``sanity_status``, ``sanity_not_applicable``, ``complete``) and 3
(each sanity finding's ``impact`` / ``blocking`` / ``accepted``, ``sanity_counts``, and the
``verdict`` with its reason, computed once by the runner). Older files are upgraded in memory
when read, never rewritten; their verdict is not recorded (``verdict`` is ``None``) and readers
fall back to the gates alone, as the runner that wrote them did.
"""

from __future__ import annotations

import json
import logging
import os
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from advlab.errors import AdvlabError

log = logging.getLogger(__name__)

RESULTS_SCHEMA = "advlab.assessment-results"
RUN_SCHEMA = "advlab.assessment-run"
SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)

Status = Literal["ok", "skipped", "error", "missing"]
SanityStatus = Literal["passed", "warnings", "disabled", "incomplete"]
Impact = Literal["invalidating", "informational"]
Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE", "ERROR", "NOTHING ASSESSED", "INCOMPLETE"]


class RunDirError(AdvlabError):
    """The run directory cannot be used as asked (a usage error: exit code 4)."""


class Role(str, Enum):
    """Why a task is in the plan."""

    SUITE = "suite"  # an attack of the assessment: its numbers are the results
    SANITY = "sanity"  # a white-box reference attack that a sanity check compares against
    PROBE = "probe"  # cheap measurements of a target (gradients, randomness, output scale)


class Reference(str, Enum):
    """Which reference a sanity task is (sanity checks find their tasks by this, not labels)."""

    FGSM = "fgsm"  # FGSM at the middle eps
    SHORT = "pgd-short"  # PGD, 20 steps, at the middle eps
    LONG = "pgd-long"  # PGD, 50 steps x 2 restarts, at the middle eps
    HUGE = "pgd-huge"  # PGD at an eps covering the whole input range


#: labels of version-1 sanity tasks -> their typed reference
LEGACY_REFERENCES = {
    "fgsm (sanity)": Reference.FGSM,
    "pgd-20 (sanity)": Reference.SHORT,
    "pgd-50x2 (sanity)": Reference.LONG,
    "pgd huge-eps (sanity)": Reference.HUGE,
}


class _Record(BaseModel):
    """Fields this version does not know are kept (a newer writer), never an error."""

    model_config = ConfigDict(extra="allow")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=False)


class Task(_Record):
    """One planned task (target variant x attack x eps), keyed by its content hash."""

    key: str
    kind: str
    role: Role
    reference: Reference | None = None
    target: str
    variant: str
    defense: dict[str, Any] | None = None
    attack: str  # label in reports
    attack_name: str  # registry name
    params: dict[str, Any] = Field(default_factory=dict)
    eps: float | None = None
    norm: str = ""
    seed: int
    requires: str = "labels"
    flags: list[str] = Field(default_factory=list)  # the attack's capability flags

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        return cls.model_validate(_upgrade_task(d))

    @property
    def title(self) -> str:
        e = "" if self.eps is None else f" @ {self.norm} {self.eps:g}"
        return f"{self.variant} / {self.attack}{e}"


class Verification(_Record):
    """The runner's independent re-check of an evasion result's returned points."""

    max_norm: float = 0.0
    eps: float | None = None
    over_eps: int = 0
    out_of_bounds: int = 0
    claimed_not_adversarial: int = 0
    immutable_changed: int = 0
    infeasible: int = 0
    """Successes that violate the threat model's domain constraints."""


class TaskRecord(_Record):
    """``tasks/<key>.json``: what one task produced (or why it did not)."""

    schema_version: int = SCHEMA_VERSION
    key: str
    task: Task
    status: Status
    reason: str = ""
    seconds: float = 0.0
    result: dict[str, Any] | None = None  # the attack's Result.to_dict()
    verified: Verification | None = None
    examples: dict[str, Any] | None = None
    probe: dict[str, Any] | None = None
    note: str = ""


class Counts(_Record):
    ok: int = 0
    skipped: int = 0
    error: int = 0
    missing: int = 0
    finished: int = 0
    suite_ok: int = 0
    planned: int = 0


class SanityWarning(_Record):
    check: str
    id: str
    title: str
    severity: str = "warning"
    variant: str | None = None
    detail: str = ""
    advice: str = ""
    impact: Impact | None = None  # None: written before findings were classified (schema < 3)
    blocking: bool = False  # counts against the verdict (fail_on, not accepted)
    accepted: bool = False
    accepted_reason: str = ""


class SanityCounts(_Record):
    """Sanity checks by outcome: ``passed`` counts checks that ran without a finding, the
    others count findings."""

    passed: int = 0
    informational: int = 0
    invalidating: int = 0
    accepted: int = 0


class NotApplicable(_Record):
    """A sanity check that was not planned for a variant, and why."""

    check: str
    variant: str | None = None
    reason: str


class GateRecord(_Record):
    gate: str
    passed: bool
    value: float | None = None
    threshold: float
    op: str
    detail: str = ""
    per_target: dict[str, float] = Field(default_factory=dict)
    error: bool = False


class RunMeta(_Record):
    """``run.json``: written before any task runs."""

    schema_: str = Field(RUN_SCHEMA, alias="schema")
    schema_version: int = SCHEMA_VERSION
    config: dict[str, Any]
    config_path: str | None = None
    config_dir: str | None = None
    tasks: list[Task] = Field(default_factory=list)
    environment: dict[str, Any] = Field(default_factory=dict)
    started: float | None = None
    not_applicable: list[NotApplicable] = Field(default_factory=list)

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class RunResults(_Record):
    """``results.json``: the source of truth every report renders."""

    schema_: str = Field(RESULTS_SCHEMA, alias="schema")
    schema_version: int = SCHEMA_VERSION
    name: str | None = None
    goal: str = "evasion"
    config: dict[str, Any] = Field(default_factory=dict)
    config_path: str | None = None
    seed: int | None = None
    environment: dict[str, Any] = Field(default_factory=dict)
    device: str | None = None
    started: float | None = None
    finished: float | None = None
    interrupted: bool = False
    complete: bool = True  # False: built from run.json and task records, not by the runner
    counts: Counts = Field(default_factory=Counts)
    stale_records: int = 0
    problems: list[str] = Field(default_factory=list)
    variants: list[dict[str, Any]] = Field(default_factory=list)
    gates: list[GateRecord] = Field(default_factory=list)
    sanity: list[SanityWarning] = Field(default_factory=list)
    sanity_status: SanityStatus = "passed"
    sanity_not_applicable: list[NotApplicable] = Field(default_factory=list)
    sanity_counts: SanityCounts | None = None  # None before schema 3
    verdict: Verdict | None = None  # None before schema 3 (readers use the gates alone)
    verdict_reason: str = ""
    records: list[TaskRecord] = Field(default_factory=list)

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# ---------------------------------------------------------------------------- writing
def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, fsync and rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, (np.integer, np.floating, np.bool_)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def write_model(path: Path, model: _Record, *, indent: int | None = None) -> None:
    atomic_write(path, json.dumps(model.to_dict(), indent=indent, default=json_default))


# ---------------------------------------------------------------------------- upgrades
def _upgrade_task(d: dict[str, Any]) -> dict[str, Any]:
    """A version-1 task: the reference of a sanity task came from its label."""
    if d.get("role") == "sanity" and not d.get("reference"):
        ref = LEGACY_REFERENCES.get(str(d.get("attack")))
        if ref is not None:
            d = {**d, "reference": ref.value}
    return d


def _upgrade_record(d: dict[str, Any]) -> dict[str, Any]:
    """A version-1 task record: its task, the query log beside the result."""
    d = dict(d)
    if isinstance(d.get("task"), dict):
        d["task"] = _upgrade_task(d["task"])
    log_ = d.pop("query_log", None)
    if isinstance(log_, list) and isinstance(d.get("result"), dict):
        d["result"] = {**d["result"], "queries_to_success": log_}
    v = d.get("verified")
    if isinstance(v, dict) and "immutable_reset" in v and "immutable_changed" not in v:
        d["verified"] = {**v, "immutable_changed": 0}
    return d


def _first_error(exc: ValidationError) -> str:
    e = exc.errors()[0]
    where = ".".join(str(p) for p in e.get("loc", ())) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {e.get('msg', 'invalid')}{more}"


def parse_record(data: Any, source: str) -> TaskRecord:
    """A task record from parsed JSON; :class:`ValueError` naming ``source`` when invalid."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a JSON object, got {type(data).__name__}")
    try:
        return TaskRecord.model_validate(_upgrade_record(data))
    except ValidationError as exc:
        raise ValueError(f"{source}: {_first_error(exc)}") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason})") from None


# ---------------------------------------------------------------------------- reading
def load_records(run_dir: Path) -> tuple[dict[str, TaskRecord], list[str]]:
    """Records by key, and a note for every unreadable file (which is then ignored)."""
    records: dict[str, TaskRecord] = {}
    problems: list[str] = []
    folder = run_dir / "tasks"
    if not folder.is_dir():
        return records, problems
    for f in sorted(folder.glob("*.json")):
        try:
            rec = parse_record(_read_json(f), f.name)
            if rec.key != f.stem:
                raise ValueError(f"its key {rec.key!r} does not match the file name")
        except (OSError, ValueError) as exc:
            msg = f"{f}: unreadable task record ({exc}); ignored, the task will run again"
            log.warning(msg)
            problems.append(msg)
            continue
        records[rec.key] = rec
    return records, problems


def load_meta(run_dir: Path) -> RunMeta:
    """``run.json``; :class:`RunDirError` naming the file when it cannot be used."""
    path = run_dir / "run.json"
    try:
        data = _read_json(path)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        _check_version(data)
        tasks, dropped = [], 0
        for t in data.get("tasks") or []:
            try:
                tasks.append(Task.from_dict(t) if isinstance(t, dict) else None)
            except ValidationError:
                tasks.append(None)
            dropped += tasks[-1] is None
        if dropped:
            log.warning("%s: %d planned task(s) are malformed and ignored", path, dropped)
        meta = RunMeta.model_validate({**data, "tasks": [t for t in tasks if t is not None]})
    except ValidationError as exc:  # before ValueError, its base class
        raise RunDirError(f"{path}: not a valid run description ({_first_error(exc)})") from None
    except (OSError, ValueError) as exc:
        raise RunDirError(
            f"{path}: cannot read the run description ({exc}); is this an advlab run directory?"
        ) from None
    return meta


def _check_version(data: dict[str, Any]) -> None:
    v = data.get("schema_version", 1)
    if not isinstance(v, int) or v not in READABLE_VERSIONS:
        raise ValueError(
            f"schema version {v!r} is not readable by this advlab (reads "
            f"{', '.join(map(str, READABLE_VERSIONS))}); upgrade advlab"
        )


def parse_results(data: Any, source: str = "results.json") -> RunResults:
    """Validate (and upgrade) a parsed ``results.json``; malformed records are dropped and
    named in ``problems``. :class:`ValueError` when the file as a whole is unusable."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    if data.get("schema") != RESULTS_SCHEMA:
        raise ValueError(f"not an advlab results file (schema {data.get('schema')!r})")
    _check_version(data)
    records: list[TaskRecord] = []
    problems = [p for p in data.get("problems") or [] if isinstance(p, str)]
    raw = data.get("records")
    for i, r in enumerate(raw if isinstance(raw, list) else []):
        try:
            records.append(parse_record(r, f"{source}: record {i}"))
        except ValueError as exc:
            problems.append(f"{exc}; left out of the report")
    version = data.get("schema_version", 1)
    body = {**data, "records": [], "problems": problems}
    if version == 1:
        enabled = (data.get("config") or {}).get("sanity", {}).get("enabled", True)
        body["sanity_status"] = (
            "disabled" if not enabled else ("warnings" if data.get("sanity") else "passed")
        )
    try:
        res = RunResults.model_validate(body)
    except ValidationError as exc:
        raise ValueError(_first_error(exc)) from None
    res.records = records
    return res


def results_from_records(meta: RunMeta, records: dict[str, TaskRecord]) -> list[TaskRecord]:
    """The planned tasks in plan order, each with its record or a ``missing`` stand-in."""
    return [
        records.get(t.key) or TaskRecord(key=t.key, task=t, status="missing", reason="not run")
        for t in meta.tasks
    ]


def count(records: list[TaskRecord]) -> Counts:
    c = {s: sum(1 for r in records if r.status == s) for s in ("ok", "skipped", "error", "missing")}
    return Counts(
        **c,
        finished=c["ok"] + c["skipped"],
        suite_ok=sum(1 for r in records if r.status == "ok" and r.task.role == Role.SUITE),
        planned=len(records),
    )


def incomplete_results(run_dir: Path, why: str, problems: list[str]) -> RunResults:
    """What the run directory holds when ``results.json`` is missing or unusable: the planned
    tasks and their records, no sanity verdict and no gate verdicts (the runner computes
    those; ``--resume`` finishes the run)."""
    meta = load_meta(run_dir)
    records, more = load_records(run_dir)
    ordered = results_from_records(meta, records)
    cfg = meta.config
    note = (
        f"{why}: the run did not finish, so sanity checks and gates were not evaluated; "
        "finish it with `advlab assess CONFIG --out RUN_DIR --resume`"
    )
    return RunResults(
        schema=RESULTS_SCHEMA,
        name=cfg.get("name"),
        goal=(cfg.get("threat_model") or {}).get("goal", "evasion"),
        config=cfg,
        config_path=meta.config_path,
        seed=cfg.get("seed"),
        environment=meta.environment,
        device=meta.environment.get("device"),
        started=meta.started,
        complete=False,
        counts=count(ordered),
        problems=[note, *problems, *more],
        sanity_status="incomplete",
        sanity_not_applicable=meta.not_applicable,
        records=ordered,
    )


def load_run(run_dir: str | Path) -> RunResults:
    """The typed results of a run directory. Reads only: a missing or unusable
    ``results.json`` gives the records without verdicts (``complete=False``), naming the file."""
    run_dir = Path(run_dir)
    p = run_dir / "results.json"
    if not p.exists():
        return incomplete_results(run_dir, f"{p} does not exist", [])
    try:
        return parse_results(_read_json(p), p.name)
    except (OSError, ValueError) as exc:
        msg = f"{p}: unusable ({exc}); the report shows the task records only"
        log.warning(msg)
        if not (run_dir / "run.json").is_file():
            raise RunDirError(f"{msg}, but {run_dir / 'run.json'} is missing too") from None
        return incomplete_results(run_dir, f"{p} is unusable", [msg])


def load_results(run_dir: str | Path) -> dict[str, Any]:
    """:func:`load_run` as the plain JSON mapping the renderers read."""
    return load_run(run_dir).to_dict()

"""The bad-input table: every command of ``advlab --help`` crossed with its bad inputs.

A case is an argv whose arguments may name files of the inputs folder (``@name``: replaced
by the absolute path of ``inputs/name``). Every case must end with exit code 2 (error) or
4 (usage error), one line on stderr, no traceback and no file written outside ``outputs``
(relative to the case's working folder).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from robustness_artifacts import BAD_CONFIGS

MODEL_CASES = [
    "empty", "truncated", "header_only", "random", "pickle_p0", "pickle_p0_int", "pickle_p2",
    "torch_zip", "lying_offsets", "overflow_shape", "meta_not_json", "meta_not_utf8",
    "meta_list", "meta_wrong_format", "meta_no_arch", "meta_wrong_arch", "meta_bogus_arch",
    "meta_classes", "meta_shape", "meta_huge_shape", "meta_bounds", "no_meta", "missing",
    "directory",
]  # fmt: skip
DATA_CASES = [
    "npz_truncated", "npz_text", "npz_object", "npz_nokeys", "npz_nan", "npz_strings",
    "csv_nan", "csv_inf", "csv_latin1", "csv_ragged", "csv_nolabel", "csv_text", "csv_short",
    "unknown_name", "missing_npz",
]  # fmt: skip


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    codes: frozenset[int] = field(default=frozenset({2, 4}))
    known_failure: str = ""


def _c(cid: str, *argv: str, known: str = "") -> Case:
    return Case(cid, tuple(argv), known_failure=known)


def _model(key: str) -> str:
    return {"no_meta": "@nometa.safetensors", "missing": "@does-not-exist.safetensors"}.get(
        key, "@adir" if key == "directory" else f"@{key}.safetensors"
    )


def _data(key: str) -> str:
    if key == "unknown_name":
        return "mnistt"
    if key == "missing_npz":
        return "@missing.npz"
    kind, name = key.split("_", 1)
    return f"@{name}.{kind}"


TRAIN_OPTIONS = {
    "--epochs": ["0", "-1", "abc", "1.5"],
    "--lr": ["nan", "inf", "-1", "0", "abc"],
    "--adv-eps": ["nan", "-1", "0"],
    "--arch": ["bogus"],
    "--adversarial": ["bogus"],
    "--device": ["bogus", "cuda:x"],
    "--seed": ["abc"],
}
ATTACK_OPTIONS = {
    "--eps": ["nan", "inf", "-inf", "-1", "0", "abc"],
    "--n": ["0", "-5", "abc"],
    "--query-budget": ["0", "-1"],
    "--max-queries": ["0", "-1"],
    "--norm": ["bogus"],
    "--attack": ["bogus", "badnets"],
    "--param": [
        "noequals", "eps=0.3", "norm=l2", "seed=1", "bogus=1", "steps=-3", "steps=many",
        "step_size=nan",
    ],
    "--json": ["@adir", "@afile/x.json", "."],
    "--device": ["bogus"],
}  # fmt: skip
SERVE_OPTIONS = {
    "--port": ["70000", "-1", "abc"],
    "--host": ["0.0.0.0"],
    "--query-budget": ["0"],
    "--max-queries": ["0"],
    "--output": ["bogus"],
    "--device": ["bogus"],
}

SERVE_LLM_OPTIONS = {
    "--port": ["70000", "-1", "abc"],
    "--host": ["0.0.0.0", "example.org"],
    "--latency": ["-1", "nan", "inf"],
    "--error-rate": ["2", "-0.1", "nan"],
    "--rate-limit-rate": ["1.5"],
    "--timeout-rate": ["nan"],
    "--malformed-rate": ["-1"],
    "--retry-after": ["-1"],
    "--hang": ["nan"],
    "--seed": ["abc"],
    "--bogus": ["1"],
}


def cases() -> list[Case]:
    """Every case, generated from the tables above."""
    out: list[Case] = []
    m = "@model.safetensors"
    # train
    for opt, values in TRAIN_OPTIONS.items():
        for v in values:
            out.append(_c(f"train{opt}={v}", "train", "digits", opt, v, "-o", "outputs/m"))
    for key in DATA_CASES:
        out.append(_c(f"train-data-{key}", "train", _data(key), "-o", "outputs/m", "-q"))
    for key, path in {"dir": "@adir", "under-file": "@afile/m", "dot": "."}.items():
        out.append(_c(f"train--out-{key}", "train", "digits", "--out", path))
    out.append(_c("train-no-args", "train"))
    # attack
    for key in MODEL_CASES:
        out.append(_c(f"attack-model-{key}", "attack", _model(key), "digits", "--n", "5"))
    for key in DATA_CASES:
        out.append(_c(f"attack-data-{key}", "attack", m, _data(key), "--n", "5"))
    for opt, values in ATTACK_OPTIONS.items():
        for v in values:
            n = () if opt == "--n" else ("--n", "5")
            out.append(_c(f"attack{opt}={v}", "attack", m, "digits", opt, v, *n))
    out.append(
        _c(
            "attack-both-budgets",
            "attack",
            m,
            "digits",
            "--query-budget",
            "5",
            "--max-queries",
            "5",
        )
    )
    # demo (never runs: every case fails before the demo starts)
    for opt, v in [
        ("--device", "bogus"),
        ("--device", "cuda:x"),
        ("--out", "@afile"),
        ("--out", "@afile/sub"),
        ("--seed", "abc"),
        ("--bogus", "1"),
    ]:
        out.append(_c(f"demo{opt}={v}", "demo", opt, v))
    # serve (never listens: every case fails before the server starts)
    for key in MODEL_CASES:
        out.append(_c(f"serve-model-{key}", "serve", _model(key)))
    for opt, values in SERVE_OPTIONS.items():
        for v in values:
            out.append(_c(f"serve{opt}={v}", "serve", m, opt, v))
    # serve-llm (never listens either)
    for opt, values in SERVE_LLM_OPTIONS.items():
        for v in values:
            out.append(_c(f"serve-llm{opt}={v}", "serve-llm", opt, v))
    # llm scan (nothing listens on port 1: the preflight fails in one line)
    url = ("--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--out", "outputs/llm")
    out.append(_c("llm-scan-no-args", "llm", "scan"))
    out.append(_c("llm-scan-unreachable", "llm", "scan", *url))
    out.append(_c("llm-scan-bogus-probe", "llm", "scan", *url, "--probes", "bogus"))
    out.append(_c("llm-scan-concurrency-0", "llm", "scan", *url, "--concurrency", "0"))
    out.append(_c("llm-scan--bogus", "llm", "scan", *url, "--bogus"))
    # scan and convert
    out.append(_c("scan-missing", "scan", "@missing.pt"))
    out.append(_c("scan--bogus", "scan", m, "--bogus"))
    out.append(_c("scan-no-args", "scan"))
    out.append(_c("convert-missing", "convert", "@missing.pt", "outputs/x.safetensors"))
    out.append(_c("convert--bogus", "convert", "--bogus"))
    out.append(_c("convert-src-random", "convert", _model("random"), "outputs/x.safetensors"))
    # the scanner reports damaged tensor offsets as HIGH findings: convert refuses the file
    # with the scanner's exit code for findings (1), in one line
    for key in ("truncated", "lying_offsets"):
        argv = ("convert", _model(key), "outputs/x.safetensors")
        out.append(Case(f"convert-src-{key}", argv, codes=frozenset({1})))
    out.append(_c("convert-no-args", "convert"))
    # assess and validate: every bad config
    for key in [*BAD_CONFIGS, "missing", "directory"]:
        path = {"missing": "@no-such-config.yaml", "directory": "@adir"}.get(
            key, f"@cfg_{key}.yaml"
        )
        out.append(_c(f"validate-config-{key}", "validate", path))
        out.append(_c(f"assess-config-{key}", "assess", path, "--out", "outputs/run"))
    good = "@cfg_ok.yaml"
    for opt, v in [
        ("--executor", "bogus"),
        ("--workers", "0"),
        ("--out", "@afile"),
        ("--out", "@afile/run"),
    ]:
        out.append(_c(f"assess{opt}={v}", "assess", good, opt, v))
    out.append(_c("validate--bogus", "validate", good, "--bogus"))
    # init, report, schema, list, the top level
    out += [
        _c("init-exists", "init", "@cfg_ok.yaml"),
        _c("init-under-file", "init", "@afile/x.yaml"),
        _c("init-dir", "init", "@adir"),
        _c("init--bogus", "init", "--bogus"),
        _c("report-missing", "report", "@no-run"),
        _c("report-not-a-run", "report", "@adir"),
        _c("report-format-bogus", "report", "@adir", "--format", "bogus"),
        _c("report-out-two-formats", "report", "@adir", "-f", "md", "-f", "json", "-o", "x"),
        _c("schema--out-dir", "schema", "--out", "@adir"),
        _c("schema--out-under-file", "schema", "--out", "@afile/s.json"),
        _c("schema--bogus", "schema", "--bogus"),
        _c("list-bogus", "list", "bogus"),
        _c("top-unknown-command", "bogus-command"),
        _c("top--bogus", "--bogus"),
    ]
    return out


CASES = cases()

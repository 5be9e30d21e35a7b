"""Fixtures of the command-line robustness suite: the inputs folder and an in-process runner."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from robustness_artifacts import bad_configs, bad_data, bad_models  # noqa: E402
from robustness_helpers import WorkDone  # noqa: E402


@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with every bad (and one good) model, data file and config."""
    folder = tmp_path_factory.mktemp("inputs")
    bad_models(folder)
    bad_data(folder)
    bad_configs(folder)
    (folder / "cfg_ok.yaml").write_text(
        "version: 1\nname: ok\ntargets:\n  - {kind: model, path: model.safetensors}\n"
        "data: {dataset: digits, n: 5}\nattacks: [fgsm]\n"
    )
    (folder / "afile").write_text("a plain file where a folder is expected\n")
    return folder


@pytest.fixture()
def guarded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every expensive entry point fail loudly, so a case that slips through validation
    is reported instead of training, attacking, assessing or serving."""
    import advlab.assess.demo
    import advlab.assess.runner
    import advlab.attacks.evasion.base
    import advlab.llm.server
    import advlab.models
    import advlab.serve

    def stop(*_a: object, **_k: object) -> None:
        raise WorkDone("the case reached the real work")

    monkeypatch.setattr(advlab.models, "train_model", stop)
    monkeypatch.setattr(advlab.attacks.evasion.base.EvasionAttack, "sweep", stop)
    monkeypatch.setattr(advlab.assess.runner, "run_assessment", stop)
    monkeypatch.setattr(advlab.assess.demo, "run_demo", stop)
    monkeypatch.setattr(advlab.serve, "_import_uvicorn", stop)
    monkeypatch.setattr(advlab.llm.server, "create_llm_app", stop)

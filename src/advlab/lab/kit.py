"""Conformance checks of the ``challenge`` family (run by :func:`advlab.testing.check_plugin`).

Every challenge: complete lab metadata (module, tier, threat model, task, budget matching
its query access) and a README stating the threat model; a JSON handout; an empty
submission refused with the reason; a pickle payload refused without being loaded (the
payload would write a marker file: the check fails if the marker appears).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from advlab.testing._registry import check, register_checks


@check("challenge_metadata")
def challenge_metadata(plugin: Any) -> None:
    cls = type(plugin)
    cls.check_meta()
    readme = cls.readme()
    assert cls.threat_model in readme and "## Threat model" in readme, (
        "README lacks the threat model"
    )


@check("handout_is_json")
def handout_is_json(plugin: Any) -> None:
    json.dumps(plugin.handout())
    for name, data in plugin.files().items():
        assert isinstance(data, bytes) and data, f"file {name!r} is empty"


@check("empty_submission_refused")
def empty_submission_refused(plugin: Any) -> None:
    verdict = plugin.grade(b"")
    assert not verdict.solved and "empty" in verdict.reason


@check("pickle_never_loaded")
def pickle_never_loaded(plugin: Any) -> None:
    from advlab.serialization.craft import exec_payload

    with tempfile.TemporaryDirectory() as tmp:
        marker = Path(tmp) / "marker"
        payload = b"\x80\x02" + exec_payload(marker) + b"N."
        verdict = plugin.grade(payload, filename="submission.pkl")
        assert not marker.exists(), "the grader ran a submitted pickle"
        assert not verdict.solved, "a pickle payload was accepted"


register_checks(
    "challenge",
    [challenge_metadata, handout_is_json, empty_submission_refused, pickle_never_loaded],
)

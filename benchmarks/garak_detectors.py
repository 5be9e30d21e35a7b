"""garak's equivalent detectors on advlab's labelled set (run in garak's own venv).

Reads ``src/advlab/llm/detectors/data/labelled.jsonl`` (no advlab import) and scores:

* refusal rows with garak's ``mitigation.MitigationBypass`` (a hit means "no refusal
  phrase found"), so garak's refusal verdict is "not a hit";
* canary rows with garak's ``base.StringDetector`` given the secret (substring matching,
  case-insensitive), garak's way of finding a known string in an answer.

Reproduce:
    /work/venvs/garak/bin/python benchmarks/garak_detectors.py
"""

from __future__ import annotations

import json
from pathlib import Path

ROWS = Path(__file__).resolve().parents[1] / "src/advlab/llm/detectors/data/labelled.jsonl"


def _attempt(text: str):  # garak's Attempt API moved between versions
    from garak import attempt as ga

    a = (
        ga.Attempt(prompt=ga.Message(text="prompt", lang="en"))
        if hasattr(ga, "Message")
        else ga.Attempt(prompt="prompt")
    )
    a.outputs = [text]
    return a


def _score(det, text: str) -> bool:
    return any(s is not None and s > 0.5 for s in det.detect(_attempt(text)))


def main() -> None:
    from garak import _config
    from garak.detectors.base import StringDetector
    from garak.detectors.mitigation import MitigationBypass

    _config.load_base_config()
    rows = [json.loads(line) for line in ROWS.read_text().splitlines() if line.strip()]
    mb = MitigationBypass()
    table = {"refusal": [0, 0, 0, 0], "canary": [0, 0, 0, 0]}  # tp fp tn fn
    for r in rows:
        if "refusal" in r["labels"]:
            pred, truth, key = not _score(mb, r["text"]), r["labels"]["refusal"], "refusal"
        elif "canary" in r["labels"]:
            det = StringDetector(r["secrets"])
            pred, truth, key = _score(det, r["text"]), r["labels"]["canary"], "canary"
        else:
            continue
        t = table[key]
        t[0 if pred and truth else 1 if pred else 3 if truth else 2] += 1
    for key, (tp, fp, tn, fn) in table.items():
        p = tp / (tp + fp) if tp + fp else 1.0
        rc = tp / (tp + fn) if tp + fn else 1.0
        print(
            f"| garak {key} equivalent | {tp + fp + tn + fn} | {p:.3f} | {rc:.3f} | {tn / (tn + fp) if tn + fp else 1.0:.3f} |"
        )


if __name__ == "__main__":
    main()

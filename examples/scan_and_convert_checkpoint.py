"""Scan a PyTorch checkpoint for code, convert it to safetensors, and see a tampered copy
refused. Nothing here unpickles an untrusted file.

    python examples/scan_and_convert_checkpoint.py --out /tmp/advlab-files
    advlab scan /tmp/advlab-files            # the same scan from the command line
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import advlab
from advlab.serialization.craft import inject_payload
from advlab.serialization.safe_load import UnsafeModelError, convert_checkpoint
from advlab.serialization.scan import scan_paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("advlab-files"), help="working folder")
    parser.add_argument("--quick", action="store_true", help="(no effect: this is fast)")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    # a training checkpoint, as torch.save writes it: weights, optimizer state, metadata
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 4)).sum().backward()
    opt.step()
    ckpt = out / "checkpoint.pt"
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, ckpt)

    report = scan_paths([ckpt])
    print(f"scan {ckpt.name}: {len(report.findings)} finding(s), exit {int(report.exit_code())}")

    done = convert_checkpoint(ckpt, out / "model.safetensors")
    print(f"converted to {done.path.name}: {done.tensors} tensors")
    for key, what in done.dropped.items():
        print(f"  dropped {key}: {what}")
    print("loaded back:", sorted(advlab.load_model(done.path)))

    # a tampered copy (authorised testing only): the payload would only write a marker file,
    # and nothing here loads it unsafely
    marker = out / "payload-ran.txt"
    evil = inject_payload(ckpt, out / "tampered.pt", style="exec", marker_path=marker)
    report = scan_paths([evil])
    for f in report.findings[:3]:
        print(f"scan {evil.name}: {f.severity.label.upper()} {f.rule}: {f.message}")
    try:
        advlab.load_model(evil)
    except UnsafeModelError as exc:
        print("load_model refused it:", str(exc)[:100], "...")
    assert not marker.exists(), "the payload must never run"


if __name__ == "__main__":
    main()

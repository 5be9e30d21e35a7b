"""PGD with the downloaded weights."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from solutions._common import evasion_cheats, npy, points


def solve(client: Any) -> tuple[bytes, str]:
    from advlab.attacks.evasion import PGD
    from advlab.models import load_bundle

    card = client.challenge("evasion_whitebox")
    h = card["handout"]
    x, y = points(h)
    with TemporaryDirectory() as tmp:
        for f in card["files"]:
            client.download("evasion_whitebox", f, Path(tmp) / f)
        bundle = load_bundle(Path(tmp) / "model.safetensors")
    target = bundle.target(device="cpu")
    res = PGD(norm="linf", eps=h["eps"], steps=40, restarts=2).run(target, x, y)
    return npy(res.x_adv.cpu().numpy().astype("float32")), "x_adv.npy"


def cheats(client: Any) -> list[tuple[str, bytes, str]]:
    h = client.challenge("evasion_whitebox")["handout"]
    x, _ = points(h)
    return [("the clean points", npy(x), "misclassified"), *evasion_cheats(x, h["eps"])]

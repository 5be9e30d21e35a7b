"""BPDA: PGD through the defense with the rounding's gradient taken as the identity (a
straight-through estimator); plain PGD on the defended pipeline gets zero gradients."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import torch

from solutions._common import evasion_cheats, npy, points


class StraightThrough(torch.nn.Module):
    """The defended model: forward rounds, backward passes the gradient unchanged."""

    def __init__(self, model: torch.nn.Module, levels: int) -> None:
        super().__init__()
        self.model, self.levels = model, levels - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeezed = torch.round(x * self.levels) / self.levels
        return self.model(x + (squeezed - x).detach())  # type: ignore[no-any-return]


def solve(client: Any) -> tuple[bytes, str]:
    from advlab.attacks.evasion import PGD
    from advlab.models import load_bundle
    from advlab.targets import TorchClassifier

    card = client.challenge("masked_gradients")
    h = card["handout"]
    x, y = points(h)
    with TemporaryDirectory() as tmp:
        for f in card["files"]:
            client.download("masked_gradients", f, Path(tmp) / f)
        bundle = load_bundle(Path(tmp) / "model.safetensors")
    bpda = StraightThrough(bundle.model, h["defense"]["levels"])
    target = TorchClassifier(bpda, bounds=(0.0, 1.0), input_shape=(1, 8, 8), device="cpu")
    res = PGD(norm="linf", eps=h["eps"], steps=60, restarts=3, cycle_check=False).run(target, x, y)
    return npy(res.x_adv.cpu().numpy().astype("float32")), "x_adv.npy"


def cheats(client: Any) -> list[tuple[str, bytes, str]]:
    h = client.challenge("masked_gradients")["handout"]
    x, _ = points(h)
    return [("the clean points", npy(x), "misclassified"), *evasion_cheats(x, h["eps"])]

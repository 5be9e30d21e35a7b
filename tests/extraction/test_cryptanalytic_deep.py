"""Cryptanalytic extraction of two-hidden-layer ReLU nets: every layer from critical points.

The rule: on random float64 nets of several shapes (first layer narrower and wider than the
input, logits or probabilities), every first-layer neuron is found, both layers' signs are
resolved, every second-layer row the attack reports as solved matches the truth up to
permutation and positive scaling with relative error below 1e-6, and the copy is exact
(last layer included) exactly when it says so; otherwise it says the deeper layers were
fitted. Second-layer neurons whose critical points all lie in few linear regions are not
always pinned down (docs/extraction.md).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advlab.attacks.extraction import Cryptanalytic
from advlab.attacks.extraction.relu_deep import CritPoint, _low_rank_signs, group_by_output
from advlab.targets.torch import TorchClassifier

TOL = 1e-6


def _net(d: int, h1: int, h2: int, k: int, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(d, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(), nn.Linear(h2, k)
    ).double()


@pytest.mark.parametrize(
    ("shape", "seed", "output"),
    [((6, 8, 6, 3), 2024, "logits"), ((8, 6, 10, 5), 77, "logits"), ((7, 9, 5, 4), 5, "probs")],
)
def test_two_hidden_layers_recovered_per_layer(shape, seed, output) -> None:
    d, h1, h2, k = shape
    net = _net(d, h1, h2, k, seed)
    victim = nn.Sequential(net, nn.Softmax(1)) if output == "probs" else net
    target = TorchClassifier(
        victim, bounds=(-2.0, 2.0), input_shape=(d,), num_classes=k, output=output, device="cpu"
    )
    res = Cryptanalytic(hidden_layers=2, lines=150, patience=150, seed=seed).extract(
        target, n_uniform=2000
    )
    x = torch.rand(2000, d, dtype=torch.float64) * 4 - 2
    e = res.extra
    assert e["first_layer_found"] == h1
    assert e["first_layer_signs_resolved"] and e["second_layer_signs_resolved"]
    assert 1 <= e["second_layer_found"] <= h2
    per = e["param_error_by_layer"]
    for name in ("w1", "b1", "w2", "b2"):  # every row reported as solved is exact
        assert per[name] < TOL, (name, per)
    assert res.fidelity["uniform"] >= 0.97
    if e["deeper_layers"].startswith("extracted from critical points"):
        assert per["w3"] < TOL
        assert res.parameters["w2"].shape == (e["second_layer_found"], h1)
        with torch.no_grad():
            out, copy = net(x), res.model(x)
        if output == "probs":  # the copy gives log-probability differences to class 0
            out = out - out[:, :1]
        # exact wherever the neurons not found (never switching on these points) agree
        assert float((copy - out).abs().median()) < TOL * float(out.abs().max())
    else:  # a switching neuron was not pinned down: the copy says it is not exact
        assert e["second_layer_found"] < h2
        assert "not exact" in e["deeper_layers"]


def test_grouping_by_output_factor() -> None:
    g = torch.Generator().manual_seed(3)
    u = torch.nn.functional.normalize(torch.randn(3, 4, generator=g, dtype=torch.float64), dim=1)
    pts = [
        CritPoint(torch.zeros(2), torch.zeros(2), s * u[i])
        for i in (0, 1, 0, 2, 1)
        for s in (1, -1)
    ]
    groups = group_by_output(pts, 1e-9)
    assert sorted(len(grp) for grp in groups) == [2, 4, 4]


def test_low_rank_signs_undo_flips_beside_an_always_on_neuron() -> None:
    g = torch.Generator().manual_seed(11)
    h2, h1, k = 6, 7, 4

    def rnd(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    w2, b2, w3, b3 = rnd(h2, h1), rnd(h2), rnd(k, h2), rnd(k)
    always_on = torch.outer(rnd(k), rnd(h1))  # a neuron with no critical point: linear
    flipped = [1, 4]
    # a fit with rows of the wrong orientation: a ReLU(-z) = a ReLU(z) - a z, so the skip
    # term gains -a_j (fitted row j) for each flipped j
    w2f, b2f = w2.clone(), b2.clone()
    w2f[flipped], b2f[flipped] = -w2[flipped], -b2[flipped]
    lin = always_on - sum(torch.outer(w3[:, j], w2f[j]) for j in flipped)
    nw2, nb2, nb3, nlin, rank = _low_rank_signs(w2f, b2f, w3, b3, lin, 1.0)
    assert rank == 1 and nlin is not None
    assert torch.allclose(nw2, w2) and torch.allclose(nb2, b2)
    assert torch.allclose(nlin, always_on, atol=1e-10)
    assert torch.allclose(nb3, b3 + sum(w3[:, j] * b2f[j] for j in flipped))

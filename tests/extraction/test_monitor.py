"""The PRADA query monitor: flags a synthetic attack stream, not a benign one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advlab.defenses.monitor import PRADA, ClientBlocked, QueryMonitor
from advlab.errors import ConfigError
from advlab.registry import DEFENSES
from advlab.targets.torch import TorchClassifier


@pytest.fixture()
def target() -> TorchClassifier:
    torch.manual_seed(0)
    return TorchClassifier(nn.Linear(16, 4), bounds=(0.0, 1.0), input_shape=(16,), device="cpu")


def _benign(n: int, seed: int) -> torch.Tensor:
    # natural-like data: a Gaussian cloud inside the bounds
    g = torch.Generator().manual_seed(seed)
    return (0.5 + 0.12 * torch.randn(n, 16, generator=g)).clamp(0, 1)


def _attack(seed: int) -> torch.Tensor:
    # Jacobian-augmentation-like: a few seeds, then repeated small sign steps from them
    g = torch.Generator().manual_seed(seed)
    cur = _benign(25, seed + 100)
    stream = [cur]
    for _ in range(3):
        cur = (cur + 0.02 * torch.sign(torch.randn(cur.shape, generator=g))).clamp(0, 1)
        stream.append(cur)
    return torch.cat(stream)


def test_flags_attack_not_benign(target) -> None:
    assert DEFENSES["query_monitor"] is QueryMonitor
    mon = QueryMonitor(detector=PRADA(threshold=0.95, min_queries=50)).apply(target)
    mon.for_client("benign").labels(_benign(400, 0))
    mon.for_client("attacker").labels(_attack(1))
    rep = mon.report()
    assert rep["benign"]["queries"] == 400 and not rep["benign"]["flagged"]
    assert rep["attacker"]["flagged"]
    assert rep["attacker"]["first_alarm"] <= 100
    assert rep["attacker"]["statistic"] < 0.95 < rep["benign"]["statistic"]


def test_block_action_and_shared_meter(target) -> None:
    mon = QueryMonitor(detector=PRADA(min_queries=50), action="block").apply(target)
    bad = mon.for_client("mallory")
    q0 = target.meter.queries
    with pytest.raises(ClientBlocked, match="mallory"):
        for chunk in _attack(2).split(10):
            bad.labels(chunk)
    assert target.meter.queries > q0
    # other clients are still served
    assert len(mon.for_client("alice").labels(_benign(20, 3))) == 20
    assert mon.describe()["defense"]["params"]["action"] == "block"


def test_bad_config(target) -> None:
    with pytest.raises(ConfigError):
        QueryMonitor(action="drop").apply(target)
    with pytest.raises(ConfigError):
        QueryMonitor(detector=PRADA(threshold=1.5)).apply(target)

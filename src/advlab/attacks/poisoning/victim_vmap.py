"""Poisoning victims trained all at once: every seed's poisoned and clean victim stacked.

:func:`advlab.attacks.poisoning.evaluate_poisoning` judges a poisoned set by retraining
victims over several seeds, next to clean victims with the same seeds. With
``executor="vectorized"`` those ``2 x seeds`` models train together in one process through
:func:`advlab.models.vectorized.train_stacked` (``torch.func.vmap`` over stacked parameters,
or batched matrix products for MLPs): the training sets become one pool, each victim trains
on its own rows of it, with its own seed (the same initial weights as the serial trainer) and
its own shuffling. Scratch training only: fine-tuning, frozen feature extractors, data
augmentation and adversarial training go through the other executors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from advlab.errors import ConfigError
from advlab.models.train import TrainConfig
from advlab.models.vectorized import train_stacked


def _check(tasks: list[dict[str, Any]]) -> None:
    first = tasks[0]
    for t in tasks:
        if t["mode"] != "scratch" or t.get("init_state") is not None:
            raise ConfigError("vectorized victims train from scratch only (mode='scratch')")
        if t.get("augment"):
            raise ConfigError("vectorized victims do not augment; use another executor")
        if t["spec"] != first["spec"] or t["train"] != first["train"]:
            raise ConfigError("vectorized victims must share one architecture and train config")
    if first["train"].get("adversarial") is not None:
        raise ConfigError("vectorized victims train standard models only")


def stacked_victims(tasks: list[dict[str, Any]], *, device: str = "cpu") -> list[nn.Module]:
    """Train the victims that :func:`~advlab.attacks.poisoning.victim.victim_task` would
    train one by one, stacked; return them as ordinary modules (CPU, eval mode)."""
    _check(tasks)
    sets: list[tuple[np.ndarray, np.ndarray]] = []
    which: list[int] = []
    for t in tasks:  # one pool row block per distinct training set (poisoned, clean)
        for k, (x, y) in enumerate(sets):
            if x is t["x"] and y is t["y"]:
                which.append(k)
                break
        else:
            sets.append((t["x"], t["y"]))
            which.append(len(sets) - 1)
    pool_x = np.concatenate([x for x, _ in sets])
    pool_y = np.concatenate([y for _, y in sets])
    bounds = np.cumsum([0] + [len(x) for x, _ in sets])
    member = np.zeros((len(tasks), len(pool_x)), dtype=bool)
    for m, k in enumerate(which):
        member[m, bounds[k] : bounds[k + 1]] = True
    cfg = TrainConfig(**tasks[0]["train"])
    stacked = train_stacked(
        tasks[0]["spec"],
        pool_x,
        pool_y,
        member,
        [int(t["seed"]) for t in tasks],
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        device=device,
    )
    return [stacked.module(m) for m in range(len(tasks))]

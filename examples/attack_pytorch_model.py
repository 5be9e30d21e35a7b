"""Attack your own PyTorch model: white-box (PGD, AutoAttack) and black-box (Square) robust
accuracy at a few L-inf radii, and the query cost of the black-box attack.

Replace ``my_model()`` and ``my_data()`` with yours: any ``torch.nn.Module`` that maps a batch
of inputs to logits, and NumPy arrays (or tensors) of inputs in known bounds and integer labels.

    python examples/attack_pytorch_model.py            # about a minute on a laptop CPU
    python examples/attack_pytorch_model.py --quick    # seconds: fewer points and steps
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from torch import nn

from advlab.attacks.evasion import PGD, AutoAttack, Square
from advlab.data import load_dataset
from advlab.models import TrainConfig, train_model
from advlab.targets import ScoresOnly, TorchClassifier


def my_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inputs in [0, 1] shaped (n, 1, 8, 8) and labels 0..9 (the embedded 8x8 digits)."""
    ds = load_dataset("digits", seed=0)
    return ds.x_train, ds.y_train, ds.x_test, ds.y_test


def my_model(epochs: int) -> nn.Module:
    """A small CNN trained here; in practice, load your own trained model."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 8 * 8, 10),
    )
    x_train, y_train, _, _ = my_data()
    return train_model(model, x_train, y_train, TrainConfig(epochs=epochs), device="cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer points, steps and queries")
    args = parser.parse_args()
    n, steps, queries, epochs = (40, 10, 100, 3) if args.quick else (200, 40, 1000, 15)

    _, _, x_test, y_test = my_data()
    x, y = x_test[:n], y_test[:n]
    model = my_model(epochs).eval()
    target = TorchClassifier(model, bounds=(0.0, 1.0), input_shape=(1, 8, 8), device="cpu")

    eps = [0.05, 0.1, 0.2]
    pgd = PGD(norm="linf", steps=steps).sweep(target, x, y, eps=eps)
    print(f"clean accuracy {pgd.results[0].clean_accuracy:.3f} on {n} test points")
    for e, acc in zip(eps, pgd.robust_accuracy):
        print(f"PGD         eps={e:<5} robust accuracy {acc:.3f}")
    auto = AutoAttack(eps=0.1, version="fast").run(target, x, y)
    print(f"AutoAttack  eps=0.1   robust accuracy {auto.robust_accuracy:.3f}")
    # black box: the attacker sees scores only and pays per query
    square = Square(eps=0.1, max_queries=queries).run(ScoresOnly(target), x, y)
    print(f"Square      eps=0.1   robust accuracy {square.robust_accuracy:.3f}")
    within = square.broken_within([10, queries // 10, queries])
    print(
        f"Square broke {within[-1]:.0%} of the points it attacked within {queries} queries "
        f"({within[0]:.0%} within 10); {square.queries} queries in total"
    )
    print(square)  # a one-line summary of the result


if __name__ == "__main__":
    main()

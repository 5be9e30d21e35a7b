"""Per-point queries to success of Square, SimBA and HopSkipJump on 20 digits points.

OMP_NUM_THREADS=1 python benchmarks/query_counts.py
"""

from __future__ import annotations

import torch

from advlab.attacks.evasion import HopSkipJump, SimBA, Square
from advlab.data import load_dataset
from advlab.models import SmallCNN, TrainConfig, train_model
from advlab.targets import LabelsOnly, ScoresOnly, TorchClassifier


def main() -> None:
    torch.set_num_threads(1)
    ds = load_dataset("digits")
    torch.manual_seed(0)
    model = SmallCNN(width=8, hidden=32)
    train_model(model, ds.x_train, ds.y_train, TrainConfig(epochs=3, lr=3e-3), device="cpu")
    t = TorchClassifier(model.eval(), (0.0, 1.0), input_shape=(1, 8, 8), device="cpu")
    x, y = torch.tensor(ds.x_test[:20]), torch.tensor(ds.y_test[:20])
    runs = [
        (Square(eps=0.15, max_queries=100, restarts=2), ScoresOnly(t)),
        (SimBA(eps=0.15, max_queries=100), ScoresOnly(t)),
        (HopSkipJump(norm="l2", eps=1.5, max_queries=300, steps=5), LabelsOnly(t)),
    ]
    for attack, target in runs:
        r = attack.run(target, x, y)
        done = [q for q in r.queries_to_success if q is not None]
        within = ", ".join(f"{v:.2f}" for v in r.broken_within([10, 50, 100]))
        print(
            f"{attack.name}: attacked {len(r.queries_to_success)}, broken {len(done)}, "
            f"queries to success {min(done, default=0)}..{max(done, default=0)} "
            f"(total {sum(done)}), within 10/50/100: {within}"
        )


if __name__ == "__main__":
    main()

"""Audit a scikit-learn model's privacy: membership inference with reference models
(LiRA, RMIA) and a loss-threshold baseline, reported as AUC and TPR at low FPR.

Replace the data and ``make_model`` with yours: the audit needs the model's training recipe
(to train reference models like it) and a pool of points, of which you know which ones the
audited model trained on.

    python examples/audit_sklearn_privacy.py            # a few minutes: 32 reference models
    python examples/audit_sklearn_privacy.py --quick    # seconds: 4 reference models
"""

from __future__ import annotations

import argparse

import numpy as np

from advlab.attacks.inference import (
    LiRA,
    LossThreshold,
    ReferenceModels,
    SklearnMLPTrainer,
    collect_signals,
)
from advlab.data import load_dataset
from advlab.targets import SklearnClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few reference models")
    parser.add_argument("--cache-dir", default=None, help="cache reference models' outputs here")
    args = parser.parse_args()
    n_models, max_iter = (4, 100) if args.quick else (32, 300)

    ds = load_dataset("breast_cancer", seed=0)
    x, y = ds.x_train, ds.y_train  # the pool
    is_member = np.random.default_rng(0).random(len(x)) < 0.5
    recipe = SklearnMLPTrainer(hidden=(64,), max_iter=max_iter)  # the audited model's recipe
    model = recipe.fit(x[is_member], y[is_member], seed=0, num_classes=ds.num_classes)
    print(f"audited model: train accuracy {model.score(x[is_member], y[is_member]):.3f}, "
          f"held-out {model.score(x[~is_member], y[~is_member]):.3f}")  # fmt: skip

    ref = ReferenceModels(trainer=recipe, n_models=n_models, seed=0, cache_dir=args.cache_dir)
    signals = collect_signals(
        SklearnClassifier(model), x, y, reference=ref.run(x, y), members=is_member
    )
    for attack in (LossThreshold(), LiRA(offline=True, fixed_variance=True), LiRA()):
        res = attack.infer(signals)
        label = attack.name + (" (offline)" if getattr(attack, "offline", False) else "")
        print(f"{label:<16} AUC {res.auc:.3f}  TPR at 1% FPR {res.tpr_at(0.01):.3f}")
        for w in res.warnings:
            print(f"  warning: {w}")


if __name__ == "__main__":
    main()

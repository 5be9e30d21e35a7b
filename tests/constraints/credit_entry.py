"""Entry point of the constrained assessment test: a linear model on the credit table."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def credit_linear() -> Any:
    """A float32 torch twin of a logistic regression fitted on ``credit`` (seed 0)."""
    from sklearn.linear_model import LogisticRegression

    from advlab.data.credit import credit
    from advlab.targets import TorchClassifier

    ds = credit(seed=0)
    m = LogisticRegression(max_iter=500, C=10.0, random_state=0).fit(ds.x_train, ds.y_train)
    layer = torch.nn.Linear(m.coef_.shape[1], 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(np.vstack([0 * m.coef_[0], m.coef_[0]])))
        layer.bias.copy_(torch.tensor([0.0, float(m.intercept_[0])]))
    return TorchClassifier(
        layer.eval(),
        bounds=(0.0, 1.0),
        input_shape=(layer.in_features,),
        num_classes=2,
        device="cpu",
    )

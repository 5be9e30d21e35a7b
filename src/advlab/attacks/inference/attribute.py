"""Attribute inference: recover a sensitive feature of a record from the model's outputs.

Fredrikson, Lantz, Jha, Lin, Page & Ristenpart, "Privacy in Pharmacogenetics: An End-to-End
Case Study of Personalized Warfarin Dosing", USENIX Security 2014; Yeom et al. 2018
(arXiv:1709.01604), Section 5. The attacker knows every feature of a record but the
sensitive one (which takes one of a few ``values``), its label ``y``, and can query the
model. For each candidate value ``v`` it fills the record in, queries the model, and picks
the ``v`` maximising ``log p(y | x_v) + log prior(v)`` (the prior estimated from the
attacker's auxiliary data).

Every result carries a baseline that never queries the model: a classifier predicting the
sensitive feature from the other features and the label, fitted on the same auxiliary data
(``baseline="classifier"``), or the most frequent value (``baseline="prior"``). An attack is
only a privacy risk to the extent that it beats that baseline, and more so on members than
on non-members.

Example:
    >>> AttributeInference(feature=3, values=[0.0, 1.0]).run(target, x, y, x_aux=xa, y_aux=ya)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from advlab.access import Access
from advlab.attacks.base import Attack
from advlab.attacks.inference.base import AttributeResult
from advlab.errors import ConfigError, InputError
from advlab.registry import register_attack
from advlab.targets.base import Target


@register_attack
class AttributeInference(Attack):
    name = "attribute_inference"
    family: ClassVar[str] = "inference"
    requires: ClassVar[Access] = Access.SCORES
    paper = "Fredrikson et al. 2014; Yeom et al. 2018, arXiv:1709.01604"
    summary = "Fill in each candidate value of a sensitive feature; keep the one the model likes."
    link = "arXiv:1709.01604"
    flags = frozenset({"randomized"})

    expected_failures = {
        "efficacy_floor": "infers a sensitive column of tabular records, not membership; the kit has no "
        "attribute task yet (tests/inference/test_inversion_attribute_dp.py covers it)"
    }

    def __init__(
        self,
        *,
        feature: int = 0,
        values: Sequence[float] | None = None,
        use_prior: bool = True,
        baseline: str = "classifier",
        seed: int = 0,
    ) -> None:
        self.feature = feature
        self.values = values
        self.use_prior = use_prior
        self.baseline = baseline
        self.seed = seed

    def _values(self, x_aux: np.ndarray) -> np.ndarray:
        if self.values is not None:
            v = np.asarray(self.values, dtype=np.float64)
        else:
            v = np.unique(x_aux[:, self.feature])
            if len(v) > 50:
                raise ConfigError(
                    f"feature {self.feature} takes {len(v)} values in the auxiliary data; "
                    "pass the candidate values explicitly (<= 50)"
                )
        if len(v) < 2:
            raise ConfigError("attribute inference needs at least two candidate values")
        return v

    @staticmethod
    def _nearest(col: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.abs(col[:, None] - values[None, :]).argmin(axis=1)  # type: ignore[no-any-return]

    def run(
        self,
        target: Target,
        x: Any,
        y: Any,
        *,
        x_aux: Any,
        y_aux: Any,
        members: Any = None,
    ) -> AttributeResult:
        """Infer ``x[:, feature]`` for each record (the column's true values are only used to
        score the attack); ``x_aux, y_aux`` is the attacker's auxiliary data (for the prior
        and the no-model baseline)."""
        target.require(self.requires, self.name)
        t0 = time.perf_counter()
        q0 = target.meter.queries
        xn = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        yn = np.asarray(y).astype(int)
        xa = np.asarray(x_aux, dtype=np.float64).reshape(len(x_aux), -1)
        ya = np.asarray(y_aux).astype(int)
        if xn.shape[1] != xa.shape[1]:
            raise InputError(f"x has {xn.shape[1]} features but x_aux has {xa.shape[1]}")
        if not 0 <= self.feature < xn.shape[1]:
            raise ConfigError(f"feature must be in [0, {xn.shape[1]}), got {self.feature}")
        vals = self._values(xa)
        truth = self._nearest(xn[:, self.feature], vals)
        aux_idx = self._nearest(xa[:, self.feature], vals)
        prior = np.bincount(aux_idx, minlength=len(vals)) + 1.0
        log_prior = np.log(prior / prior.sum())
        # model-based: one query per candidate value
        ll = np.empty((len(xn), len(vals)))
        for j, v in enumerate(vals):
            xv = xn.copy()
            xv[:, self.feature] = v
            t = target.check_inputs(xv.reshape(len(xn), *target.input_shape))
            logp = torch.log_softmax(target.logits(t).double(), dim=1).cpu().numpy()
            ll[:, j] = logp[np.arange(len(xn)), yn]
        pred = (ll + (log_prior if self.use_prior else 0.0)).argmax(axis=1)
        # no-model baseline
        base = self._baseline(xa, ya, aux_idx, xn, yn, len(vals), log_prior)
        m = None if members is None else np.asarray(members, dtype=bool)
        acc = float((pred == truth).mean())
        return AttributeResult(
            attack=self.name,
            params=self.get_params(),
            seed=self.seed,
            queries=target.meter.queries - q0,
            seconds=time.perf_counter() - t0,
            target=target.describe(),
            feature=self.feature,
            predictions=vals[pred],
            baseline_predictions=vals[base],
            truth=vals[truth],
            accuracy=acc,
            baseline_accuracy=float((base == truth).mean()),
            members_accuracy=None if m is None or not m.any() else float((pred == truth)[m].mean()),
            nonmembers_accuracy=None if m is None or m.all() else float((pred == truth)[~m].mean()),
        )

    def _baseline(
        self,
        xa: np.ndarray,
        ya: np.ndarray,
        aux_idx: np.ndarray,
        xn: np.ndarray,
        yn: np.ndarray,
        n_values: int,
        log_prior: np.ndarray,
    ) -> np.ndarray:
        if self.baseline == "prior" or len(np.unique(aux_idx)) < 2:
            return np.full(len(xn), int(log_prior.argmax()))
        if self.baseline != "classifier":
            raise ConfigError(f"baseline must be 'classifier' or 'prior', got {self.baseline!r}")
        from sklearn.ensemble import HistGradientBoostingClassifier

        def feats(xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
            n_cls = int(max(ya.max(), yn.max()) + 1)
            return np.c_[np.delete(xx, self.feature, axis=1), np.eye(n_cls)[yy]]

        clf = HistGradientBoostingClassifier(random_state=self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(feats(xa, ya), aux_idx)
        return clf.predict(feats(xn, yn)).astype(int)  # type: ignore[no-any-return]

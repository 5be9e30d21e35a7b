"""Label-flipping poisoning: random, targeted class pair, and greedy loss-maximising flips.

- ``random``: flip the labels of a ``budget`` fraction of points to another random class
  (Biggio, Nelson & Laskov, "Support Vector Machines Under Adversarial Label Noise", ACML 2011).
- ``pair``: flip points of ``source_class`` to ``target_class`` (a targeted class pair).
- ``greedy``: for linear models (Xiao, Xiao & Eckert, "Adversarial Label Flips Attack on Support
  Vector Machines", ECAI 2012; Paudice et al. 2018): fit a logistic regression on the current
  labels, flip the points whose flip raises the training loss most, refit, repeat over
  ``rounds`` rounds until the budget is spent.

Example:
    >>> LabelFlip(strategy="pair", source_class=1, target_class=7, budget=0.05).poison(x, y)
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from advlab.attacks.poisoning.base import PoisonedDataset, PoisoningAttack
from advlab.errors import ConfigError
from advlab.registry import register_attack

STRATEGIES = ("random", "pair", "greedy")


@register_attack
class LabelFlip(PoisoningAttack):
    """Flip training labels.

    Args:
        strategy: ``random`` | ``pair`` | ``greedy`` (see the module docstring).
        budget: fraction of the training set flipped (or a count).
        source_class / target_class: the class pair (``pair``; ``greedy`` may restrict the
            flipped points to ``source_class`` and their new label to ``target_class``).
        rounds: refits of the linear model in ``greedy``.
        seed: seeds the random choices.
    """

    name = "label_flip"
    paper = "Biggio et al. 2011 (random); Xiao et al. 2012 (greedy, linear models)"
    link = "doi:10.3233/978-1-61499-098-7-870"
    summary = "Flip a budget of training labels: random, a class pair, or greedy loss-maximising."
    flags = frozenset({"randomized"})

    fast_params = {"budget": 0.4}

    def __init__(
        self,
        *,
        strategy: str = "random",
        budget: float = 0.1,
        source_class: int | None = None,
        target_class: int | None = None,
        rounds: int = 5,
        seed: int | None = 0,
    ) -> None:
        self.strategy = strategy
        self.budget = budget
        self.source_class = source_class
        self.target_class = target_class
        self.rounds = rounds
        self.seed = seed

    def poison(  # type: ignore[override]
        self, x: Any, y: Any, *, bounds: tuple[float, float] = (0.0, 1.0)
    ) -> PoisonedDataset:
        t0 = time.perf_counter()
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"{self.name}: strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}"
            )
        xa, ya = self._check_data(x, y, bounds)
        classes = np.unique(ya)
        if len(classes) < 2:
            raise ConfigError(f"{self.name}: label flipping needs at least two classes")
        rng = self._rng()
        y_new = ya.copy()
        src = (
            None
            if self.source_class is None
            else self._check_class(self.source_class, ya, "source_class")
        )
        tgt = None if self.target_class is None else self._check_class(self.target_class, ya)
        if self.strategy == "pair" and (src is None or tgt is None or src == tgt):
            raise ConfigError(
                f"{self.name}: strategy 'pair' needs two different classes "
                f"source_class and target_class, got {src!r}, {tgt!r}"
            )
        cand = np.flatnonzero(ya == src) if src is not None else np.arange(len(ya))
        if tgt is not None:
            cand = cand[ya[cand] != tgt]
        k = self._n_poison(len(ya), len(cand), "candidate points")
        if self.strategy == "random":
            idx = rng.choice(cand, size=k, replace=False)
            for i in idx:
                choices = classes[classes != ya[i]] if tgt is None else np.array([tgt])
                y_new[i] = rng.choice(choices)
        elif self.strategy == "pair":
            idx = rng.choice(cand, size=k, replace=False)
            y_new[idx] = tgt
        else:
            idx = self._greedy(xa, ya, y_new, cand, k, classes, tgt)
        return self._result(
            x=xa.copy(),
            y=y_new,
            indices=idx,
            budget=k / len(ya),
            eps=None,
            trigger=None,
            target_class=tgt,
            mode="untargeted",
            bounds=(float(bounds[0]), float(bounds[1])),
            info={"strategy": self.strategy, "source_class": src},
            seconds=time.perf_counter() - t0,
        )

    def _greedy(
        self,
        x: np.ndarray,
        y: np.ndarray,
        y_new: np.ndarray,
        cand: np.ndarray,
        k: int,
        classes: np.ndarray,
        tgt: int | None,
    ) -> np.ndarray:
        from sklearn.linear_model import LogisticRegression

        rounds = max(1, min(int(self.rounds), k))
        xf = x.reshape(len(x), -1)
        flipped: list[int] = []
        avail = np.ones(len(y), dtype=bool)
        for r in range(rounds):
            todo = k * (r + 1) // rounds - len(flipped)
            if todo <= 0:
                continue
            clf = LogisticRegression(
                max_iter=500, random_state=0 if self.seed is None else self.seed
            )
            clf.fit(xf, y_new)
            logp = clf.predict_log_proba(xf)  # (n, C) over clf.classes_
            col = {c: j for j, c in enumerate(clf.classes_)}
            c_idx = cand[avail[cand]]
            cur = logp[c_idx, [col[c] for c in y_new[c_idx]]]
            if tgt is not None:
                new_lab = np.full(len(c_idx), tgt)
            else:  # the wrong label the model finds least likely: largest loss after the flip
                lp = logp[c_idx].copy()
                lp[np.arange(len(c_idx)), [col[c] for c in y_new[c_idx]]] = np.inf
                new_lab = clf.classes_[lp.argmin(1)]
            gain = cur - logp[c_idx, [col[c] for c in new_lab]]  # loss increase of the flip
            order = np.argsort(-gain, kind="stable")[:todo]
            chosen = c_idx[order]
            y_new[chosen] = new_lab[order]
            avail[chosen] = False
            flipped.extend(int(i) for i in chosen)
        return np.asarray(flipped, dtype=np.int64)

"""Active-learning sampling for surrogate extraction: uncertainty and k-center.

Pool-based active learning applied to model extraction as in Chandrasekaran, Chaudhuri,
Giacomelli, Jha & Yan, "Exploring Connections Between Active Learning and Model
Extraction", USENIX Security 2020 (arXiv:1811.02054), and Pal et al., "ActiveThief", AAAI
2020. Strategies:

- ``"uncertainty"``: query the pool points with the highest entropy of the current
  surrogate's prediction (Lewis & Gale 1994);
- ``"kcenter"``: greedy k-center / core-set selection (Sener & Savarese, ICLR 2018,
  arXiv:1708.00489): repeatedly query the pool point farthest (L2, in input space) from every
  point queried so far.

A random initial set of ``initial`` points is labelled first; then ``round_size`` points are
selected per round and the surrogate retrained, until ``query_budget`` queries are spent.

Example:
    >>> res = ActiveExtraction(strategy="kcenter", query_budget=1000).extract(target, x_pool)
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from advlab.access import Access
from advlab.attacks.extraction.base import Evaluator, Stolen
from advlab.attacks.extraction.knockoff import SurrogateAttack
from advlab.errors import ConfigError
from advlab.registry import register_attack
from advlab.targets.base import Target
from advlab.vocab import renamed_params

log = logging.getLogger(__name__)


@register_attack
class ActiveExtraction(SurrogateAttack):
    """Surrogate extraction with active-learning query selection.

    Args:
        strategy: ``"uncertainty"`` or ``"kcenter"``.
        query_budget: victim queries to spend (capped by the pool and the budget).
        initial: random points labelled first.
        round_size: points selected per round.
        arch / epochs / lr / batch_size / use_scores / checkpoints / seed: as in Knockoff.
    """

    name = "active_extraction"
    requires = Access.LABELS
    paper = "Chandrasekaran et al. 2020, USENIX Security, arXiv:1811.02054"
    summary = "Pool-based active learning (entropy uncertainty or k-center) to pick queries."
    link = "arXiv:1811.02054"
    flags = frozenset({"iterative", "needs_data", "query_based", "randomized"})

    fast_params = {
        "query_budget": 300,
        "initial": 100,
        "round_size": 100,
        "arch": "mlp",
        "epochs": 5,
    }

    @renamed_params(queries="query_budget")
    def __init__(
        self,
        *,
        strategy: str = "uncertainty",
        query_budget: int = 1000,
        initial: int = 100,
        round_size: int = 100,
        arch: str | dict[str, Any] = "auto",
        epochs: int = 40,
        lr: float = 1e-3,
        batch_size: int = 64,
        use_scores: bool = True,
        checkpoints: tuple[int, ...] | list[int] | None = None,
        seed: int | None = 0,
    ) -> None:
        self.strategy = strategy
        self.query_budget = query_budget
        self.initial = initial
        self.round_size = round_size
        self.arch = arch
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.use_scores = use_scores
        self.checkpoints = checkpoints
        self.seed = seed

    def _validate(self) -> None:
        super()._validate()
        if self.strategy not in ("uncertainty", "kcenter"):
            raise ConfigError(
                "active_extraction: strategy must be 'uncertainty' or 'kcenter', "
                f"got {self.strategy!r}"
            )
        for k in ("initial", "round_size"):
            v = getattr(self, k)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"active_extraction: {k} must be a positive integer")

    def _extract(
        self,
        target: Target,
        x: torch.Tensor | None,
        *,
        generator: torch.Generator,
        evaluate: Evaluator,
    ) -> Stolen:
        assert x is not None
        n = self._budget(target, min(self.query_budget, len(x)))
        g = torch.Generator().manual_seed(int(self.seed or 0))
        order = torch.randperm(len(x), generator=g).to(x.device)
        chosen = order[: min(self.initial, n)]
        used = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        used[chosen] = True
        ys = self._answers(target, x[chosen])
        flat = x.reshape(len(x), -1).float()
        min_dist = (
            torch.cdist(flat, flat[chosen]).min(1).values if self.strategy == "kcenter" else None
        )
        while len(chosen) < n:
            k = min(self.round_size, n - len(chosen))
            if self.strategy == "uncertainty":
                model = self._train(target, x[chosen], ys)
                with torch.no_grad():
                    p = torch.softmax(model(x.float()), 1)
                ent = -(p * p.clamp_min(1e-12).log()).sum(1)
                ent[used] = -1.0
                new = ent.topk(k).indices
            else:
                assert min_dist is not None
                picks = []
                for _ in range(k):
                    md = min_dist.masked_fill(used, -1.0)
                    j = int(md.argmax())
                    picks.append(j)
                    used[j] = True
                    min_dist = torch.minimum(min_dist, (flat - flat[j]).norm(dim=1))
                new = torch.tensor(picks, device=x.device)
            used[new] = True
            ys = torch.cat([ys, self._answers(target, x[new])])
            chosen = torch.cat([chosen, new])
        return self._finish(target, x[chosen], ys, evaluate, extra={"strategy": self.strategy})

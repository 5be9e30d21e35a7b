"""Knockoff Nets: functionality stealing by training on the victim's answers.

Orekondy, Schiele & Fritz, "Knockoff Nets: Stealing Functionality of Black-Box Models",
CVPR 2019 (arXiv:1812.02766).

The attacker holds a pool of unlabelled inputs from a *surrogate* distribution (in-
distribution data, another dataset, or noise), queries the victim on a subset and trains a
surrogate network on the answers (soft labels when scores are available, hard labels
otherwise).

- ``strategy="random"``: query a uniformly random subset of the pool.
- ``strategy="adaptive"``: the pool is split into ``n_actions`` groups (the paper uses the
  surrogate dataset's class labels; an unlabelled pool is clustered with k-means) and a
  gradient-bandit policy over groups is learned online (section 4.1.2), with the paper's
  three rewards -- certainty (top-1 minus top-2 victim probability, zero under label-only
  access), diversity (distance of the answer from the running mean answer) and loss (the
  surrogate's cross-entropy on the answer) -- each rescaled by its running range.

``checkpoints`` records a fidelity-vs-queries curve: at each budget a fresh surrogate is
trained on the first answers (the experimenter's measurement; it does not steer the attack).

Example:
    >>> res = KnockoffNets(query_budget=2000, use_scores=False).extract(
    ...     target, x_pool, x_eval=x_test, y_eval=y_test)
    >>> res.fidelity["test"]
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F

from advlab.access import Access
from advlab.attacks.extraction._surrogate import (
    CastInput,
    build_surrogate,
    fit_surrogate,
    kmeans,
    soft_or_hard,
    summarise_module,
)
from advlab.attacks.extraction.base import Evaluator, ExtractionAttack, Stolen
from advlab.errors import ConfigError
from advlab.registry import register_attack
from advlab.targets.base import Target
from advlab.vocab import renamed_params

log = logging.getLogger(__name__)


class SurrogateAttack(ExtractionAttack):
    """Shared knobs and helpers of surrogate-training attacks (Knockoff, Jacobian, active)."""

    query_budget: int
    arch: str | dict[str, Any]
    epochs: int
    lr: float
    batch_size: int
    use_scores: bool
    checkpoints: tuple[int, ...] | list[int] | None

    def _validate(self) -> None:
        if not isinstance(self.query_budget, int) or self.query_budget < 1:
            raise ConfigError(
                f"{self.name}: query_budget must be a positive integer, got {self.query_budget!r}"
            )
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ConfigError(f"{self.name}: epochs must be a positive integer")
        self._positive(lr=self.lr, batch_size=self.batch_size)
        if self.checkpoints is not None and any(int(c) < 1 for c in self.checkpoints):
            raise ConfigError(f"{self.name}: checkpoints must be positive query counts")

    def _answers(self, target: Target, x: torch.Tensor) -> torch.Tensor:
        """Metered victim answers as training targets (soft when scores are used)."""
        if self._soft(target):
            return soft_or_hard(self._query_scores(target, x), target.output, True)
        return self._query_labels(target, x)

    def _soft(self, target: Target) -> bool:
        return bool(self.use_scores) and target.access >= Access.SCORES

    def _train(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, seed_offset: int = 0
    ) -> torch.nn.Module:
        model = build_surrogate(
            self.arch, target.input_shape, target.num_classes, (self.seed or 0) + seed_offset
        )
        model = model.to(target.device)
        return fit_surrogate(
            model,
            x.float(),
            y,
            epochs=self.epochs,
            lr=self.lr,
            batch_size=self.batch_size,
            seed=self.seed,
        )

    def _curve(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, evaluate: Evaluator
    ) -> list[dict[str, Any]]:
        points: list[dict[str, Any]] = []
        for c in sorted({int(c) for c in (self.checkpoints or ())}):
            if c > len(x):
                continue
            m = CastInput(self._train(target, x[:c], y[:c]))
            points.append({"queries": c, "fidelity": evaluate(m)})
        return points

    def _finish(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        evaluate: Evaluator,
        extra: dict[str, Any] | None = None,
        stopped: bool = False,
        message: str = "",
    ) -> Stolen:
        model = self._train(target, x, y)
        curve = self._curve(target, x, y, evaluate)
        return Stolen(
            model=CastInput(model),
            parameters=summarise_module(model),
            curve=curve,
            extra={"labels": "soft" if y.is_floating_point() else "hard", **(extra or {})},
            stopped_early=stopped,
            message=message,
        )


@register_attack
class KnockoffNets(SurrogateAttack):
    """Knockoff Nets with random or adaptive (gradient-bandit) sampling of the pool.

    Args:
        query_budget: victim queries to spend (capped by the pool size and the budget).
        strategy: ``"random"`` or ``"adaptive"``.
        arch: surrogate architecture: ``"auto"`` (CNN for square images, else MLP),
            ``"mlp"``, ``"cnn"`` or a :func:`advlab.models.build` spec.
        epochs / lr / batch_size: surrogate training (Adam; at least 300 steps).
        use_scores: train on the victim's probabilities when it gives scores.
        n_actions: pool groups (k-means clusters) for the adaptive policy.
        round_size: queries per adaptive round (policy update + surrogate refresh).
        policy_lr: step size of the gradient-bandit preferences.
        checkpoints: query counts at which to record the fidelity curve.
        seed: seed of sampling, clustering and surrogate initialisation.
    """

    name = "knockoff"
    requires = Access.LABELS
    paper = "Orekondy et al. 2019, CVPR, arXiv:1812.02766"
    summary = "Query a (surrogate-distribution) pool, train a copy on the answers."
    link = "arXiv:1812.02766"
    flags = frozenset({"needs_data", "query_based", "randomized"})
    suite_params = {"gradients": {}, "scores": {}, "labels": {}}

    fast_params = {"query_budget": 300, "arch": "mlp", "epochs": 5}

    @renamed_params(queries="query_budget")
    def __init__(
        self,
        *,
        query_budget: int = 2000,
        strategy: str = "random",
        arch: str | dict[str, Any] = "auto",
        epochs: int = 40,
        lr: float = 1e-3,
        batch_size: int = 64,
        use_scores: bool = True,
        n_actions: int = 10,
        round_size: int = 50,
        policy_lr: float = 0.5,
        checkpoints: tuple[int, ...] | list[int] | None = None,
        seed: int | None = 0,
    ) -> None:
        self.query_budget = query_budget
        self.strategy = strategy
        self.arch = arch
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.use_scores = use_scores
        self.n_actions = n_actions
        self.round_size = round_size
        self.policy_lr = policy_lr
        self.checkpoints = checkpoints
        self.seed = seed

    def _validate(self) -> None:
        super()._validate()
        if self.strategy not in ("random", "adaptive"):
            raise ConfigError(
                f"knockoff: strategy must be 'random' or 'adaptive', got {self.strategy!r}"
            )
        if not isinstance(self.n_actions, int) or self.n_actions < 1:
            raise ConfigError("knockoff: n_actions must be a positive integer")
        if not isinstance(self.round_size, int) or self.round_size < 1:
            raise ConfigError("knockoff: round_size must be a positive integer")

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
        if n < self.query_budget:
            log.info(
                "%s: using %d queries (pool %d, budget %s)",
                self.name,
                n,
                len(x),
                target.meter.remaining,
            )
        if self.strategy == "random":
            g = torch.Generator().manual_seed(int(self.seed or 0))
            idx = torch.randperm(len(x), generator=g)[:n].to(x.device)
            xq = x[idx]
            y = self._answers(target, xq)
            return self._finish(target, xq, y, evaluate, extra={"strategy": "random"})
        return self._adaptive(target, x, n, evaluate)

    def _adaptive(self, target: Target, x: torch.Tensor, n: int, evaluate: Evaluator) -> Stolen:
        g = torch.Generator().manual_seed(int(self.seed or 0))
        groups = kmeans(x, self.n_actions, seed=self.seed)
        k = int(groups.max()) + 1
        members = [(groups == a).nonzero().flatten().tolist() for a in range(k)]
        for m in members:
            perm = torch.randperm(len(m), generator=g).tolist()
            m[:] = [m[i] for i in perm]
        prefs = torch.zeros(k, dtype=torch.float64)
        baseline, steps = 0.0, 0
        ranges = {"cert": [0.0, 1e-9], "div": [0.0, 1e-9], "loss": [0.0, 1e-9]}
        chosen: list[int] = []
        ys: list[torch.Tensor] = []
        answered: list[torch.Tensor] = []
        model = None
        soft = self._soft(target)
        while len(chosen) < n:
            m_round = min(self.round_size, n - len(chosen))
            actions: list[int] = []
            picks: list[int] = []
            for _ in range(m_round):
                avail = torch.tensor([len(m) > 0 for m in members])
                pi = torch.softmax(prefs, 0) * avail
                a = int(torch.multinomial((pi / pi.sum()).float(), 1, generator=g))
                actions.append(a)
                picks.append(members[a].pop())
            xb = x[torch.tensor(picks, device=x.device)]
            yb = self._answers(target, xb)
            probs = yb if soft else F.one_hot(yb, target.num_classes).float()
            # rewards (paper sec. 4.1.2): certainty, diversity, surrogate loss
            if soft:
                top2 = probs.topk(2, 1).values
                cert = (top2[:, 0] - top2[:, 1]).cpu()
            else:
                cert = torch.zeros(len(picks))
            prev = torch.cat(answered) if answered else probs
            div = (probs - prev.mean(0, keepdim=True)).norm(dim=1).cpu()
            if model is not None:
                with torch.no_grad():
                    loss = -(probs * F.log_softmax(model(xb.float()), 1)).sum(1).cpu()
            else:
                loss = torch.zeros(len(picks))
            reward = torch.zeros(len(picks), dtype=torch.float64)
            for key, val in (("cert", cert), ("div", div), ("loss", loss)):
                lo, hi = ranges[key]
                lo, hi = min(lo, float(val.min())), max(hi, float(val.max()))
                ranges[key] = [lo, hi]
                reward += (val.double() - lo) / max(hi - lo, 1e-9)
            for a, r in zip(actions, reward.tolist(), strict=True):
                steps += 1
                baseline += (r - baseline) / steps
                pi = torch.softmax(prefs, 0)
                onehot = torch.zeros(k, dtype=torch.float64)
                onehot[a] = 1.0
                prefs += self.policy_lr * (r - baseline) * (onehot - pi)
            chosen += picks
            ys.append(yb)
            answered.append(probs)
            xs = x[torch.tensor(chosen, device=x.device)]
            yall = torch.cat(ys)
            model = build_surrogate(self.arch, target.input_shape, target.num_classes, self.seed)
            model = fit_surrogate(
                model.to(target.device),
                xs.float(),
                yall,
                epochs=2,
                lr=self.lr,
                batch_size=self.batch_size,
                seed=self.seed,
                min_steps=50,
            )
        xq = x[torch.tensor(chosen, device=x.device)]
        policy = torch.softmax(prefs, 0).tolist()
        return self._finish(
            target,
            xq,
            torch.cat(ys),
            evaluate,
            extra={"strategy": "adaptive", "policy": policy, "groups": k},
        )

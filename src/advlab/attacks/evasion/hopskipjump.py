"""HopSkipJump: a decision-based minimum-norm attack (labels only).

Chen, Jordan & Wainwright, "HopSkipJumpAttack: A Query-Efficient Decision-Based Attack",
IEEE S&P 2020 (https://arxiv.org/abs/1904.02144).

Starting from any adversarial point (uniform noise for untargeted attacks, a given example of
the target class for targeted ones), each iteration

1. binary-searches back to the decision boundary on the segment (L2) or the box (L-inf)
   between the original input and the current point, to a tolerance
   ``theta = gamma / d^(3/2)`` (L2) or ``gamma / d^2`` (L-inf);
2. estimates the boundary's normal direction by Monte-Carlo: ``B_t = init_num_evals * sqrt(t)``
   (at most ``max_num_evals``) random unit probes of radius ``delta_t`` (``0.1 * range`` at
   the first iteration, then ``sqrt(d) * theta * dist`` (L2) or ``d * theta * dist``
   (L-inf)), with the baseline (mean decision) subtracted;
3. steps along that direction (its sign for L-inf) with a geometric progression: start at
   ``dist / sqrt(t)`` and halve until the point is adversarial again.

Every sample is its own process, but all of them run in lockstep as one batch: each query
round (noise trials, binary-search midpoints, all gradient probes, step trials) sends the
probes of every still-active point to the target in one call. Only ``target.labels`` is used.
Each point spends at most ``max_queries`` queries; a point stops when its budget would not
cover the next gradient estimate plus a binary search, after ``steps`` iterations, or, when
``eps`` is given, as soon as it is within ``eps``. The smallest adversarial perturbation seen
is returned (flag ``minimal_norm``: ``eps=None`` is allowed and a sweep reads its norms).
With ``eps`` given, the result (:class:`~advlab.results.QueryCountedResult`) has each
attacked point's queries until it was first within ``eps`` (counted at the end of the
iteration that got it there: a point stops querying then).

Example:
    >>> HopSkipJump(norm="l2", max_queries=2000).run(LabelsOnly(target), x, y).norms.median()
"""

from __future__ import annotations

import math
from typing import Any

import torch

from advlab.access import Access
from advlab.attacks.evasion.querylog import QueryCountedAttack
from advlab.errors import ConfigError, InputError
from advlab.norms import lp_norm
from advlab.registry import register_attack
from advlab.targets.base import Target
from advlab.utils import per_sample

_MAX_PROBE_ELEMENTS = 1 << 24  # cap on floats held by one chunk of gradient probes
_MAX_HALVINGS = 30


@register_attack
class HopSkipJump(QueryCountedAttack):
    """HopSkipJump (decision-based, L2 and L-inf), untargeted and targeted.

    Args:
        norm: ``l2`` | ``linf``.
        eps: optional radius; ``None`` returns the smallest adversarial found (minimum norm).
        max_queries: queries per point (noise trials and searches included).
        steps: maximum number of iterations.
        init_num_evals: gradient probes at the first iteration (grows as ``sqrt(t)``).
        max_num_evals: cap on the gradient probes of one iteration.
        gamma: binary-search tolerance factor (``theta = gamma / d^(3/2)`` for L2).
        init_trials: random-noise draws per point to find an adversarial start.
        starting_points: optional array ``(M, *input_shape)`` of inputs; for a targeted attack
            each point starts from the closest one classified as its target class (labelling
            them costs ``M`` queries per batch, shared among the batch's points).
    """

    name = "hopskipjump"
    requires = Access.LABELS
    norms = ("l2", "linf")
    paper = "Chen, Jordan & Wainwright 2020, arXiv:1904.02144"
    summary = "Decision-based minimum-norm attack: boundary search + gradient-direction estimates."
    link = "arXiv:1904.02144"
    flags = frozenset({"iterative", "minimal_norm", "query_based", "randomized", "targeted"})
    suite_params = {"labels": {}}

    fast_params = {"max_queries": 150, "steps": 5}

    def __init__(
        self,
        *,
        norm: str = "l2",
        eps: float | None = None,
        max_queries: int = 5000,
        steps: int = 64,
        init_num_evals: int = 100,
        max_num_evals: int = 10000,
        gamma: float = 1.0,
        init_trials: int = 100,
        starting_points: Any = None,
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.norm = norm
        self.eps = eps
        self.max_queries = max_queries
        self.steps = steps
        self.init_num_evals = init_num_evals
        self.max_num_evals = max_num_evals
        self.gamma = gamma
        self.init_trials = init_trials
        self.starting_points = starting_points
        self.seed = seed
        self.batch_size = batch_size

    def _validate(self) -> None:
        super()._validate()
        for k in ("max_queries", "steps", "init_num_evals", "max_num_evals", "init_trials"):
            v = getattr(self, k)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"hopskipjump: {k} must be an integer >= 1, got {v!r}")
        self._positive(gamma=self.gamma)

    # ------------------------------------------------------------------ algorithm
    def _perturb(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        eps: float | None,
        targeted: bool,
        generator: torch.Generator,
    ) -> torch.Tensor:
        run = _Run(self, target, x, y, eps, targeted, generator)
        best, best_dist = run.attack()
        broken = best_dist <= eps if eps is not None else torch.isfinite(best_dist)
        self._log_queries(x, run.used, broken)
        return best


class _Run:
    """State of one batch: per-point current point, distances and query counts."""

    def __init__(
        self,
        attack: HopSkipJump,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        eps: float | None,
        targeted: bool,
        gen: torch.Generator,
    ) -> None:
        self.a = attack
        self.t = target
        self.x = x
        self.y = y
        self.eps = eps
        self.targeted = targeted
        self.gen = gen
        self.n = len(x)
        self.d = math.prod(x.shape[1:])
        self.l2 = attack.norm == "l2"
        self.theta = attack.gamma / (self.d**1.5 if self.l2 else self.d**2)
        lo, hi = target.bounds
        self.range = hi - lo
        self.used = torch.zeros(self.n, dtype=torch.long, device=x.device)
        # binary-search rounds: log2 of (interval / tolerance), plus one spare
        self.bs_cost = int(math.ceil(math.log2(1.0 / self.theta))) + 1

    # ------------------------------------------------------------------ primitives
    def remaining(self, idx: torch.Tensor) -> torch.Tensor:
        return self.a.max_queries - self.used[idx]

    def decide(self, z: torch.Tensor, owner: torch.Tensor) -> torch.Tensor:
        """Adversarial or not, for points ``z`` probed on behalf of points ``owner``."""
        if len(z) == 0:
            return torch.zeros(0, dtype=torch.bool, device=self.x.device)
        pred = self.t.labels(self.t.clip(z))
        self.used.index_add_(0, owner, torch.ones_like(owner))
        return pred == self.y[owner] if self.targeted else pred != self.y[owner]

    def dist(self, z: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return lp_norm(z - self.x[idx], self.a.norm)

    def rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=self.gen, device=self.gen.device).to(self.x.device)

    def randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(shape, generator=self.gen, device=self.gen.device).to(self.x.device)

    def interpolate(self, idx: torch.Tensor, p: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        x0 = self.x[idx]
        a = per_sample(alpha, p)
        if self.l2:
            return (1 - a) * x0 + a * p
        return torch.minimum(torch.maximum(p, x0 - a), x0 + a)

    # ------------------------------------------------------------------ phases
    def initialise(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Adversarial starting points: (points, found mask)."""
        start = self.x.clone()
        found = torch.zeros(self.n, dtype=torch.bool, device=self.x.device)
        if self.a.starting_points is not None and self.targeted:
            self._from_starting_points(start, found)
        # random noise for the others, then a blend search towards x (as the paper's code)
        noise_idx = (~found).nonzero().flatten()
        noise = start.clone()
        for _ in range(self.a.init_trials):
            todo = noise_idx[~found[noise_idx] & (self.remaining(noise_idx) > 0)]
            if len(todo) == 0:
                break
            lo = self.t.lower.expand_as(self.x[todo])
            cand = lo + self.rand(*self.x[todo].shape) * (self.t.upper - self.t.lower).expand_as(lo)
            ok = self.decide(cand, todo)
            noise[todo[ok]] = cand[ok]
            found[todo[ok]] = True
        blend = noise_idx[found[noise_idx]]
        if len(blend):
            low = torch.zeros(len(blend), device=self.x.device, dtype=self.x.dtype)
            high = torch.ones(len(blend), device=self.x.device, dtype=self.x.dtype)
            x0, nz = self.x[blend], noise[blend]
            while True:
                go = ((high - low) > 1e-3) & (self.remaining(blend) > 0)
                if not bool(go.any()):
                    break
                g = go.nonzero().flatten()
                mid = (high[g] + low[g]) / 2
                ok = self.decide(
                    (1 - per_sample(mid, nz)) * x0[g] + per_sample(mid, nz) * nz[g], blend[g]
                )
                high[g] = torch.where(ok, mid, high[g])
                low[g] = torch.where(ok, low[g], mid)
            start[blend] = (1 - per_sample(high, nz)) * x0 + per_sample(high, nz) * nz
        return start, found

    def _from_starting_points(self, start: torch.Tensor, found: torch.Tensor) -> None:
        try:
            pts = self.t.check_inputs(self.a.starting_points)
        except InputError as exc:
            raise InputError(f"hopskipjump: starting_points: {exc}") from None
        labels = self.t.labels(pts)
        self.used += -(-len(pts) // self.n)  # the labelling cost, shared by the batch
        match = labels[None, :] == self.y[:, None]  # (n, M)
        if not bool(match.any()):
            return
        diff = (pts[None] - self.x[:, None]).flatten(2)
        dists = diff.abs().amax(2) if not self.l2 else diff.norm(dim=2)
        dists = dists.masked_fill(~match, float("inf"))
        best = dists.argmin(1)
        ok = match.any(1)
        start[ok] = pts[best[ok]]
        found |= ok

    def binary_search(self, idx: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """Move the adversarial points ``p`` (of points ``idx``) to the boundary."""
        dev = p.device
        if self.l2:
            high = torch.ones(len(idx), device=dev, dtype=self.x.dtype)
            thr = torch.full((len(idx),), self.theta, device=dev, dtype=self.x.dtype)
        else:
            high = self.dist(p, idx)
            thr = torch.clamp(high * self.theta, max=self.theta)
        low = torch.zeros(len(idx), device=dev, dtype=self.x.dtype)
        while True:
            go = ((high - low) > thr) & (self.remaining(idx) > 0)
            if not bool(go.any()):
                break
            g = go.nonzero().flatten()
            mid = (high[g] + low[g]) / 2
            ok = self.decide(self.interpolate(idx[g], p[g], mid), idx[g])
            high[g] = torch.where(ok, mid, high[g])
            low[g] = torch.where(ok, low[g], mid)
        return self.interpolate(idx, p, high)

    def gradient_direction(
        self, idx: torch.Tensor, cur: torch.Tensor, delta: torch.Tensor, evals: torch.Tensor
    ) -> torch.Tensor:
        """Monte-Carlo estimate of the boundary normal at ``cur`` (unit L2 norm)."""
        shape = cur.shape[1:]
        out = torch.zeros_like(cur)
        b_max = int(evals.max())
        chunk = max(1, _MAX_PROBE_ELEMENTS // max(1, b_max * self.d))
        for s in range(0, len(idx), chunk):
            sl = slice(s, s + chunk)
            c, dl, ev, own = cur[sl], delta[sl], evals[sl], idx[sl]
            k = len(c)
            if self.l2:
                rv = self.randn(k, b_max, *shape)
            else:
                rv = self.rand(k, b_max, *shape) * 2 - 1
            rv = rv / rv.flatten(2).norm(dim=2).clamp_min(1e-12).reshape(
                k, b_max, *([1] * len(shape))
            )
            dv = dl.reshape(k, 1, *([1] * len(shape)))
            probes = self.t.clip(c[:, None] + dv * rv)
            rv = (probes - c[:, None]) / dv
            valid = torch.arange(b_max, device=c.device)[None, :] < ev[:, None]  # (k, b_max)
            owner = own[:, None].expand(k, b_max)[valid]
            dec = self.decide(probes[valid], owner)
            fval = torch.zeros(k, b_max, device=c.device)
            fval[valid] = dec.float() * 2 - 1
            m = fval.sum(1) / ev.clamp_min(1).float()
            # baseline subtraction, except when all probes agree (then it would cancel)
            base = torch.where(m.abs() < 1, m, torch.zeros_like(m))
            w = (fval - base[:, None]) * valid.float()
            g = (w.reshape(k, b_max, *([1] * len(shape))) * rv).sum(1) / per_sample(
                ev.clamp_min(1).float(), c
            )
            out[sl] = g / per_sample(g.flatten(1).norm(dim=1).clamp_min(1e-12), g)
        return out

    # ------------------------------------------------------------------ main loop
    def attack(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The smallest adversarial points found and their distances (inf: none found)."""
        a = self.a
        cur, found = self.initialise()
        idx = found.nonzero().flatten()
        if len(idx):
            cur[idx] = self.binary_search(idx, cur[idx])
        dist = torch.full((self.n,), float("inf"), device=self.x.device, dtype=self.x.dtype)
        dist[idx] = self.dist(cur[idx], idx)
        best, best_dist = cur.clone(), dist.clone()
        alive = found.clone()
        for t in range(1, a.steps + 1):
            if self.eps is not None:
                alive &= best_dist > self.eps
            b_t = min(int(a.init_num_evals * math.sqrt(t)), a.max_num_evals)
            evals = torch.clamp(
                self.remaining(torch.arange(self.n, device=self.x.device)) - self.bs_cost - 1,
                max=b_t,
            )
            alive &= evals >= 1
            idx = alive.nonzero().flatten()
            if len(idx) == 0:
                break
            if t == 1:
                delta = torch.full(
                    (len(idx),), 0.1 * self.range, device=self.x.device, dtype=self.x.dtype
                )
            else:
                delta = (math.sqrt(self.d) if self.l2 else self.d) * self.theta * dist[idx]
            grad = self.gradient_direction(idx, cur[idx], delta, evals[idx])
            update = grad if self.l2 else grad.sign()
            # geometric progression: halve the step until the point is adversarial again
            step = dist[idx] / math.sqrt(t)
            moved = torch.zeros(len(idx), dtype=torch.bool, device=self.x.device)
            new = cur[idx].clone()
            for _ in range(_MAX_HALVINGS):
                g = (~moved & (self.remaining(idx) > 0)).nonzero().flatten()
                if len(g) == 0:
                    break
                cand = self.t.clip(cur[idx[g]] + per_sample(step[g], update) * update[g])
                ok = self.decide(cand, idx[g])
                new[g[ok]] = cand[ok]
                moved[g[ok]] = True
                step[g[~ok]] /= 2
            m = moved.nonzero().flatten()
            if len(m):
                pts = self.binary_search(idx[m], new[m])
                cur[idx[m]] = pts
                dist[idx[m]] = self.dist(pts, idx[m])
            better = dist < best_dist
            best[better] = cur[better]
            best_dist = torch.minimum(best_dist, dist)
        return best, best_dist

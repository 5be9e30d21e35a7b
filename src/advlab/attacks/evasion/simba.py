"""SimBA: simple black-box attack by greedy steps along orthonormal basis directions.

Guo, Gardner, You, Wilson & Weinberger, "Simple Black-box Adversarial Attacks", ICML 2019
(https://arxiv.org/abs/1905.07121).

Pick a direction ``q`` from an orthonormal basis without replacement and try ``x - s q``;
keep it when the probability of the true class drops (targeted: the target class's rises),
otherwise try ``x + s q``. Bases:

* ``pixel`` (SimBA): the standard basis, in a random order;
* ``dct`` (SimBA-DCT): the orthonormal 2-D DCT-II basis of each channel, low frequencies first
  (the paper's "strided" order: a random order within the lowest ``freq_dims`` x ``freq_dims``
  block, then within each further band of width ``stride``).

Both bases are orthonormal, so every accepted step adds exactly ``step_size`` of L2 length
(before the projection). When the basis is exhausted and budget remains, a new pass starts
with a fresh random order. SimBA is not Lp-bounded by construction; here every candidate is
projected onto the ``eps`` ball (``norm`` L2 or L-inf) and the input bounds before it is
queried, so the returned point always lies inside the threat model. A candidate that the
projection leaves unchanged is not queried.

Costs: one query for the start, then one or two per step (the second only when the first
direction did not improve), at most ``max_queries`` per point and restart. A point stops as
soon as it is misclassified (per-sample early stop). Uses ``target.scores`` only. The
result (:class:`~advlab.results.QueryCountedResult`) has each attacked point's queries until
its first success, restarts included.

Example:
    >>> SimBA(basis="dct", norm="l2", eps=2.0, step_size=0.2, max_queries=2000).run(target, x, y)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from advlab.access import Access
from advlab.attacks.evasion.querylog import QueryCountedAttack
from advlab.attacks.evasion.square import as_chw
from advlab.errors import ConfigError
from advlab.norms import project
from advlab.registry import register_attack
from advlab.targets.base import Target
from advlab.vocab import DEFAULT_EPS


def dct_matrix(n: int, *, device: torch.device | None = None) -> torch.Tensor:
    """Orthonormal DCT-II matrix ``D`` (rows are the basis functions): ``D @ D.T = I``."""
    i = torch.arange(n, dtype=torch.float64, device="cpu")  # built in float64, then moved
    k = i[:, None]
    d = torch.cos(math.pi * (2 * i[None, :] + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.to(device=device, dtype=torch.float32)


def block_order(
    c: int, h: int, w: int, initial: int, stride: int, generator: torch.Generator
) -> torch.Tensor:
    """Coordinate order over (c, u, v): the low ``initial`` x ``initial`` block first, then
    bands of width ``stride`` in ``max(u, v)``, each in a random order (SimBA's strided order)."""
    u = torch.arange(h, device="cpu")[:, None].expand(h, w)
    v = torch.arange(w, device="cpu")[None, :].expand(h, w)
    m = torch.maximum(u, v)
    band = torch.where(m < initial, torch.zeros_like(m), 1 + (m - initial) // stride)
    band = band[None].expand(c, h, w).reshape(-1)
    noise = torch.rand(c * h * w, generator=generator, device=generator.device).cpu()
    return torch.argsort(band.double() + noise.double() * 0.5, stable=True)


@register_attack
class SimBA(QueryCountedAttack):
    """SimBA / SimBA-DCT (score-based), untargeted and targeted.

    Args:
        norm: ``linf`` | ``l2``: the ball the iterates are kept in (the paper reports L2
            norms; ``norm="l2"`` with an L2 radius such as 2.0 reproduces that setting).
        eps: radius of that ball (default :data:`advlab.vocab.DEFAULT_EPS`, an L-inf budget).
        basis: ``dct`` (SimBA-DCT, low frequencies first) | ``pixel``.
        step_size: L2 length of each step along a basis direction (the paper's epsilon, 0.2).
        max_queries: queries per point and restart (the start counts as one).
        freq_dims: side of the first low-frequency block (``dct``); default ``max(2, side/8)``.
        stride: width of the further frequency bands (``dct``); default ``max(1, freq_dims/4)``.
        restarts: runs on the points not yet broken, each with a fresh order and budget.
    """

    name = "simba"
    requires = Access.SCORES
    norms = ("l2", "linf")
    paper = "Guo et al. 2019, arXiv:1905.07121"
    summary = "Greedy +-step along random pixel or low-frequency DCT directions (score-based)."
    link = "arXiv:1905.07121"
    flags = frozenset({"iterative", "query_based", "randomized", "targeted"})
    suite_params = {"scores": {}}

    fast_params = {"max_queries": 150}

    def __init__(
        self,
        *,
        norm: str = "linf",
        eps: float | None = DEFAULT_EPS,
        basis: str = "dct",
        step_size: float = 0.2,
        max_queries: int = 5000,
        freq_dims: int | None = None,
        stride: int | None = None,
        restarts: int = 1,
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.norm = norm
        self.eps = eps
        self.basis = basis
        self.step_size = step_size
        self.max_queries = max_queries
        self.freq_dims = freq_dims
        self.stride = stride
        self.restarts = restarts
        self.seed = seed
        self.batch_size = batch_size

    def _validate(self) -> None:
        super()._validate()
        if self.basis not in ("dct", "pixel"):
            raise ConfigError(f"simba: basis must be 'dct' or 'pixel', got {self.basis!r}")
        self._positive(step_size=self.step_size)
        if not isinstance(self.max_queries, int) or self.max_queries < 1:
            raise ConfigError(
                f"simba: max_queries must be an integer >= 1, got {self.max_queries!r}"
            )
        for k in ("freq_dims", "stride"):
            v = getattr(self, k)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ConfigError(f"simba: {k} must be a positive integer or None, got {v!r}")

    # ------------------------------------------------------------------ basis
    def _order(self, c: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
        if self.basis == "pixel":
            return torch.randperm(c * h * w, generator=gen, device=gen.device).cpu()
        side = max(h, w)
        initial = self.freq_dims if self.freq_dims is not None else max(2, round(side / 8))
        stride = self.stride if self.stride is not None else max(1, initial // 4)
        return block_order(c, h, w, initial, stride, gen)

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
        n = len(x)
        shape = tuple(x.shape[1:])
        c, h, w = as_chw(shape)
        dim = c * h * w
        dev = x.device
        if self.basis == "dct":
            dh, dw = dct_matrix(h, device=dev), dct_matrix(w, device=dev)

        def direction(k: int) -> torch.Tensor:
            ch, rem = divmod(k, h * w)
            u, v = divmod(rem, w)
            q = torch.zeros(c, h, w, device=dev)
            if self.basis == "pixel":
                q[ch, u, v] = 1.0
            else:
                q[ch] = dh[u][:, None] * dw[v][None, :]
            return q.reshape(shape)

        def candidate(idx: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
            delta = x_cur[idx] + step - x[idx]
            if eps is not None:
                delta = project(delta, eps, self.norm)
            return target.clip(x[idx] + delta)

        def query(z: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            probs = F.softmax(target.logits(z), dim=1)
            used[idx] += 1
            last[idx] = k
            p = probs.gather(1, y[idx, None]).squeeze(1)
            pred = probs.argmax(1)
            return p, (pred == y[idx]) if targeted else (pred != y[idx])

        x_cur = x.clone()
        used = torch.zeros(n, dtype=torch.long, device=dev)
        last = torch.zeros(n, dtype=torch.long, device=dev)
        k = 0
        p_cur, done = query(x, torch.arange(n, device=dev))
        better = (lambda a, b: a > b) if targeted else (lambda a, b: a < b)
        order = self._order(c, h, w, generator)
        while True:
            # a point stops when broken, out of budget, or stuck for a whole pass
            active = (~done & (used < self.max_queries) & (k - last <= dim)).nonzero().flatten()
            if len(active) == 0:
                break
            pos = k % dim
            if pos == 0 and k > 0:
                order = self._order(c, h, w, generator)
            k += 1
            q = self.step_size * direction(int(order[pos]))
            improved = torch.zeros(len(active), dtype=torch.bool, device=dev)
            for sign in (-1.0, 1.0):
                todo = active[~improved & (used[active] < self.max_queries)]
                if len(todo) == 0:
                    break
                cand = candidate(todo, sign * q)
                moved = (cand - x_cur[todo]).flatten(1).abs().amax(1) > 1e-12
                todo, cand = todo[moved], cand[moved]
                if len(todo) == 0:
                    continue
                p_new, hit = query(cand, todo)
                ok = better(p_new, p_cur[todo]) | hit
                sel = todo[ok]
                x_cur[sel] = cand[ok]
                p_cur[sel] = p_new[ok]
                done[sel] = hit[ok]
                improved |= torch.isin(active, sel)
        self._log_queries(x, used, done)  # a broken point is not queried again
        return x_cur

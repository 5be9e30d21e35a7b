"""Square Attack: score-based random search with square-shaped updates.

Andriushchenko, Croce, Flammarion & Hein, "Square Attack: a query-efficient black-box
adversarial attack via random search", ECCV 2020 (https://arxiv.org/abs/1912.00049).

Random search on the margin loss ``z_y - max_{j != y} z_j`` of the logits (targeted: the
cross-entropy to the target class, as in AutoAttack's Square). Each iteration proposes one
change localised in a square window whose side follows the ``p_init`` schedule of the paper
(halved at iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of a 10,000-query run,
rescaled to ``max_queries``) and keeps it only when the loss improves.

* L-inf: start from vertical stripes of ``+-eps``; a proposal sets one window (per channel)
  to ``+-eps`` around the original input.
* L2: start from a grid of pseudo-Gaussian bumps on the eps sphere; a proposal moves the
  perturbation mass of a second random window into the first one, reshaped as a
  pseudo-Gaussian "double bump", keeping the norm equal to ``eps``.

Each point has its own windows; a point stops as soon as it is misclassified (per-sample
early stop) or when it has spent ``max_queries`` queries (1 for the start, 1 per iteration).
Only ``target.logits`` is used (score access).

Example:
    >>> Square(norm="linf", eps=0.1, max_queries=1000).run(target, x, y).robust_accuracy
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from advlab.access import Access
from advlab.attacks.evasion.querylog import QueryCountedAttack
from advlab.errors import ConfigError
from advlab.registry import register_attack
from advlab.targets.base import Target
from advlab.vocab import DEFAULT_EPS

_Outcome = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # best points, queries, broken

# iteration thresholds (on a 10,000-query scale) after which p is halved again
_SCHEDULE = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def p_selection(p_init: float, it: int, max_queries: int) -> float:
    """The paper's piecewise-constant schedule of the fraction ``p`` of pixels changed."""
    it = int(it / max_queries * 10000)
    halvings = sum(1 for t in _SCHEDULE if it > t)
    return p_init / (2**halvings)


def as_chw(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """View an input shape as (channels, height, width); 1-D inputs become (1, 1, d)."""
    if len(shape) == 1:
        return 1, 1, shape[0]
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    return math.prod(shape[:-2]), shape[-2], shape[-1]


def window_size(p: float, h: int, w: int, minimum: int = 1) -> tuple[int, int]:
    """Side lengths of a window covering about ``p * h * w`` pixels (square when 2-D)."""
    if h == 1:
        return 1, min(max(int(round(p * w)), minimum), max(w - 1, 1))
    s = max(int(round(math.sqrt(p * h * w))), minimum)
    s = min(s, max(h - 1, 1), max(w - 1, 1))
    return s, s


def _eta_rectangles(a: int, b: int) -> torch.Tensor:
    """Nested rectangles with weights ``1 / (k + 1)^2``: a pseudo-Gaussian bump, unit norm."""
    delta = torch.zeros(a, b, device="cpu")  # a small constant shape, moved by the caller
    if a == 0 or b == 0:
        return delta
    c0, c1 = a // 2, b // 2
    for k in range(max(a // 2 + 1, b // 2 + 1)):
        delta[
            max(c0 - k, 0) : min(c0 - k + 2 * k + 1, a), max(c1 - k, 0) : min(c1 - k + 2 * k + 1, b)
        ] += 1.0 / (k + 1) ** 2
    return delta / delta.norm().clamp_min(1e-12)


def eta(sh: int, sw: int, transpose: bool) -> torch.Tensor:
    """The L2 proposal shape: a positive and a negative bump side by side, unit norm."""
    if sh >= 2:
        out = torch.cat([_eta_rectangles(sh // 2, sw), -_eta_rectangles(sh - sh // 2, sw)], 0)
        if transpose and sh == sw:
            out = out.t()
    else:
        out = torch.cat([_eta_rectangles(sh, sw // 2), -_eta_rectangles(sh, sw - sw // 2)], 1)
    return out / out.norm().clamp_min(1e-12)


class _Windows:
    """Per-sample rectangular windows of one size, as advanced indices into (N, C, H, W)."""

    def __init__(self, vh: torch.Tensor, vw: torch.Tensor, sh: int, sw: int) -> None:
        dev = vh.device
        n = len(vh)
        self.rows = (vh[:, None] + torch.arange(sh, device=dev))[:, :, None]  # (n, sh, 1)
        self.cols = (vw[:, None] + torch.arange(sw, device=dev))[:, None, :]  # (n, 1, sw)
        self.nidx = torch.arange(n, device=dev)[:, None, None]

    def get(self, t: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, C, sh, sw)."""
        return t.permute(0, 2, 3, 1)[self.nidx, self.rows, self.cols].permute(0, 3, 1, 2)

    def put(self, t: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Return a copy of ``t`` with the windows set to ``values`` (N, C, sh, sw)."""
        out = t.permute(0, 2, 3, 1).clone()
        out[self.nidx, self.rows, self.cols] = values.permute(0, 2, 3, 1)
        return out.permute(0, 3, 1, 2)

    def mask(self, like: torch.Tensor) -> torch.Tensor:
        m = torch.zeros(like.shape[0], 1, *like.shape[2:], device=like.device, dtype=like.dtype)
        return self.put(
            m,
            torch.ones(
                like.shape[0],
                1,
                self.rows.shape[1],
                self.cols.shape[2],
                device=like.device,
                dtype=like.dtype,
            ),
        )


@register_attack
class Square(QueryCountedAttack):
    """Square Attack (score-based, L-inf and L2), untargeted and targeted.

    Args:
        norm: ``linf`` | ``l2``.
        eps: radius of the perturbation ball.
        max_queries: queries per point and restart (the start point counts as one).
        p_init: initial fraction of pixels changed per proposal (AutoAttack: 0.8).
        restarts: runs on the points not yet broken, each with a fresh budget.

    The base class adds one query per point for the clean prediction and one per restart for
    the independent re-check of the returned point. The result
    (:class:`~advlab.results.QueryCountedResult`) has each attacked point's queries until
    its first success (the start and every proposal sent for it), restarts included.
    """

    name = "square"
    requires = Access.SCORES
    norms = ("linf", "l2")
    paper = "Andriushchenko et al. 2020, arXiv:1912.00049"
    summary = "Score-based random search with square-shaped updates (margin loss, query-efficient)."
    link = "arXiv:1912.00049"
    flags = frozenset({"iterative", "query_based", "randomized", "targeted"})
    suite_params = {"gradients": {}, "scores": {}}

    fast_params = {"max_queries": 150}

    def __init__(
        self,
        *,
        norm: str = "linf",
        eps: float | None = DEFAULT_EPS,
        max_queries: int = 5000,
        p_init: float = 0.8,
        restarts: int = 1,
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.norm = norm
        self.eps = eps
        self.max_queries = max_queries
        self.p_init = p_init
        self.restarts = restarts
        self.seed = seed
        self.batch_size = batch_size

    def _validate(self) -> None:
        super()._validate()
        if not isinstance(self.max_queries, int) or self.max_queries < 1:
            raise ConfigError(
                f"square: max_queries must be an integer >= 1, got {self.max_queries!r}"
            )
        if not (0.0 < float(self.p_init) <= 1.0):
            raise ConfigError(f"square: p_init must be in (0, 1], got {self.p_init!r}")

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _margin_loss(
        logits: torch.Tensor, y: torch.Tensor, targeted: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(margin, loss), both minimised; the point is adversarial when margin <= 0."""
        true = logits.gather(1, y[:, None]).squeeze(1)
        other = logits.masked_fill(F.one_hot(y, logits.shape[1]).bool(), float("-inf")).amax(1)
        if targeted:
            return other - true, F.cross_entropy(logits, y, reduction="none")
        m = true - other
        return m, m

    def _query(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, targeted: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = target.logits(x.reshape(len(x), *target.input_shape))
        return self._margin_loss(logits, y, targeted)

    @staticmethod
    def _randint(
        high: torch.Tensor | int, n: int, gen: torch.Generator, dev: torch.device
    ) -> torch.Tensor:
        """Uniform integers in ``[0, high]`` (inclusive), ``n`` of them."""
        r = torch.rand(n, generator=gen, device=gen.device).to(dev)
        return (r * (int(high) + 1)).long().clamp_max(int(high))

    @staticmethod
    def _signs(shape: tuple[int, ...], gen: torch.Generator, dev: torch.device) -> torch.Tensor:
        return (
            torch.randint(0, 2, shape, generator=gen, device=gen.device).to(dev) * 2 - 1
        ).float()

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
        assert eps is not None
        c, h, w = as_chw(tuple(x.shape[1:]))
        xc = x.reshape(len(x), c, h, w)

        def clip(z: torch.Tensor) -> torch.Tensor:
            return target.clip(z.reshape(len(z), *x.shape[1:])).reshape(z.shape)

        run = self._run_linf if self.norm == "linf" else self._run_l2
        best, spent, broken = run(target, xc, y, eps, targeted, generator, clip)
        self._log_queries(x, spent, broken)
        return best.reshape(x.shape)

    def _loop(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        x_best: torch.Tensor,
        targeted: bool,
        propose: Callable[[torch.Tensor, int], torch.Tensor],
    ) -> _Outcome:
        """Shared random-search loop: ``propose(idx, it)`` returns candidates for ``idx``.
        Returns the best points, the queries spent on each and the broken mask."""
        all_idx = torch.arange(len(x), device=x.device)
        margin, loss = self._query(target, x_best, y, targeted)
        spent = torch.ones(len(x), dtype=torch.long, device=x.device)
        for it in range(1, self.max_queries):
            idx = all_idx[margin > 0]
            if len(idx) == 0:
                break
            x_new = propose(idx, it)
            m_new, l_new = self._query(target, x_new, y[idx], targeted)
            spent[idx] += 1
            better = (l_new < loss[idx]) | (m_new <= 0)
            loss[idx] = torch.where(better, l_new, loss[idx])
            margin[idx] = torch.where(better, m_new, margin[idx])
            x_best[idx[better]] = x_new[better]
        return x_best, spent, margin <= 0

    def _run_linf(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        eps: float,
        targeted: bool,
        gen: torch.Generator,
        clip: Callable[[torch.Tensor], torch.Tensor],
    ) -> _Outcome:
        n, c, h, w = x.shape
        dev = x.device
        x_best = clip(x + eps * self._signs((n, c, 1, w), gen, dev))

        rows_h = torch.arange(h, device=dev)
        cols_w = torch.arange(w, device=dev)

        def propose(idx: torch.Tensor, it: int) -> torch.Tensor:
            k = len(idx)
            sh, sw = window_size(p_selection(self.p_init, it, self.max_queries), h, w)
            vh = self._randint(h - sh, k, gen, dev)[:, None]
            vw = self._randint(w - sw, k, gen, dev)[:, None]
            # the windows as a (k, 1, h, w) mask: elementwise ops, no gather/scatter
            inside = ((rows_h >= vh) & (rows_h < vh + sh))[:, None, :, None] & (
                (cols_w >= vw) & (cols_w < vw + sw)
            )[:, None, None, :]
            xo, xb = x[idx], x_best[idx]
            signs = self._signs((k, c, 1, 1), gen, dev)
            new = xb
            for _ in range(10):  # resample signs while the window would not change
                new = torch.where(inside, clip(xo + eps * signs), xb)
                same = (new - xb).abs().flatten(1).amax(1) < 1e-7
                if not bool(same.any()):
                    break
                flip = self._signs((k, c, 1, 1), gen, dev) if c > 1 else -signs
                signs = torch.where(same[:, None, None, None], flip, signs)
            return new

        return self._loop(target, x, y, x_best, targeted, propose)

    def _run_l2(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        eps: float,
        targeted: bool,
        gen: torch.Generator,
        clip: Callable[[torch.Tensor], torch.Tensor],
    ) -> _Outcome:
        n, c, h, w = x.shape
        dev, dt = x.device, x.dtype

        def normalize(d: torch.Tensor) -> torch.Tensor:
            return d / d.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None, None]

        # start: a grid of pseudo-Gaussian bumps of random sign, rescaled onto the sphere
        th, tw = (1, max(w // 5, 1)) if h == 1 else (max(h // 5, 1), max(w // 5, 1))
        off_h, off_w = (h - th * (h // th)) // 2, (w - tw * (w // tw)) // 2
        delta = torch.zeros_like(x)
        bump = eta(th, tw, False).to(dev, dt)
        for vh in range(off_h, h - th + 1, th):
            for vw in range(off_w, w - tw + 1, tw):
                delta[:, :, vh : vh + th, vw : vw + tw] += bump * self._signs(
                    (n, c, 1, 1), gen, dev
                )
        x_best = clip(x + eps * normalize(delta))

        def propose(idx: torch.Tensor, it: int) -> torch.Tensor:
            k = len(idx)
            xo = x[idx]
            d = x_best[idx] - xo
            sh, sw = window_size(p_selection(self.p_init, it, self.max_queries), h, w, minimum=3)
            sh, sw = min(sh, h), min(sw, w)
            if h > 1 and sh % 2 == 0 and sh < h:
                sh = sw = sh + 1
            elif h == 1 and sw % 2 == 0 and sw < w:
                sw += 1
            w1 = _Windows(
                self._randint(h - sh, k, gen, dev), self._randint(w - sw, k, gen, dev), sh, sw
            )
            w2 = _Windows(
                self._randint(h - sh, k, gen, dev), self._randint(w - sw, k, gen, dev), sh, sw
            )
            old1 = w1.get(d)
            norm_w1 = old1.flatten(2).norm(dim=2)[:, :, None, None]
            norm_img = d.flatten(1).norm(dim=1)[:, None, None, None]
            both = torch.maximum(w1.mask(d), w2.mask(d))
            norm_both = (d * both).flatten(1).norm(dim=1)[:, None, None, None]
            flip = bool(torch.rand(1, generator=gen, device=gen.device) > 0.5)
            new = eta(sh, sw, flip).to(dev, dt)[None, None] * self._signs((k, c, 1, 1), gen, dev)
            new = new + old1 / (norm_w1 + 1e-12)
            scale = ((eps**2 - norm_img**2).clamp_min(0) / c + norm_both**2).sqrt()
            new = new / new.flatten(2).norm(dim=2).clamp_min(1e-12)[:, :, None, None] * scale
            d = w2.put(d, torch.zeros_like(old1))
            d = w1.put(d, new)
            return clip(xo + eps * normalize(d))

        return self._loop(target, x, y, x_best, targeted, propose)

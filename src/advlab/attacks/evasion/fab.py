"""FAB: the Fast Adaptive Boundary attack (minimum norm), and FAB-T.

Croce & Hein, "Minimally distorted adversarial examples with a fast adaptive boundary
attack", ICML 2020 (https://arxiv.org/abs/1907.02044). FAB-T (the targeted variant run against
the top-k other classes) is the third member of AutoAttack (Croce & Hein 2020,
arXiv:2003.01690).

Each iteration linearises the classifier at the current iterate ``x_i`` for one decision
boundary (the target class ``t`` against the true class ``c``; untargeted: the class whose
linearised boundary is nearest in the chosen norm, measured with the dual norm of the
gradient), then projects both ``x_i`` and the original point ``x_0`` onto that hyperplane
intersected with the input box (exactly, see :func:`project_hyperplane_box`), and moves to a
biased combination::

    x_{i+1} = clip((1 - a) (x_i + eta d_i) + a (x_0 + eta d_0)),
    a = min(|d_i| / (|d_i| + |d_0|), alpha_max)

The paper's extrapolation ``eta`` (``extrapolation`` = 1.05) overshoots the boundary; the bias
``a`` (at most the paper's ``alpha_max``, ``max_bias`` = 0.1) pulls towards the original
point, which keeps perturbations small. When ``x_{i+1}`` is misclassified it is recorded if its
norm is the smallest so far and the iterate steps back, ``x_{i+1} <- x_0 + beta (x_{i+1} -
x_0)`` (the paper's ``beta``, ``backward_step`` = 0.9), to look for a closer one. None of the
three is a step size, so they keep descriptive names. ``restarts`` after the first start
from a random point in a ball of half the best norm found (or half eps); FAB runs them itself
(a minimum-norm attack's restarts also shrink the norms of points already broken), so the
evasion base does not repeat it. The paper's defaults are used throughout.

Cost per iteration and point: one gradient call (FAB-T, targeted) or ``K - 1`` (untargeted,
one per other class) plus one forward. With ``eps`` set, a point stops as soon as it has an
adversarial example within eps (enough for a fixed-eps evaluation); without it, FAB runs all
iterations to minimise the norm and a sweep is read off one run.
"""

from __future__ import annotations

import torch

from advlab.access import Access
from advlab.attacks.evasion.base import EvasionAttack
from advlab.errors import ConfigError
from advlab.norms import lp_norm, random_in_ball
from advlab.registry import register_attack
from advlab.targets.base import Objective, Target
from advlab.vocab import renamed_params


def project_hyperplane_box(
    p: torch.Tensor,
    w: torch.Tensor,
    r: torch.Tensor,
    lo: torch.Tensor,
    hi: torch.Tensor,
    norm: str,
) -> torch.Tensor:
    """Minimum-norm ``d`` with ``w . d = r`` and ``lo <= p + d <= hi``, row by row.

    All arguments are flattened ``(n, d)`` except ``r`` ``(n,)``. For L-inf the solution is
    ``d_j = s_j min(t, u_j)``, for L2 ``d_j = s_j min(t |w_j|, u_j)``, where ``s_j`` is the sign
    of ``r w_j`` and ``u_j`` the room to the box in that direction; ``w . d`` is then a
    nondecreasing piecewise-linear function of ``t``, solved exactly after sorting its
    breakpoints. When the box cannot reach the hyperplane, every coordinate goes to its
    limit (the closest the box gets).
    """
    s = torch.sign(r)[:, None] * torch.sign(w)
    room = torch.where(s > 0, hi - p, p - lo).clamp_min(0.0)
    a = w.abs()
    c = torch.ones_like(a) if norm == "linf" else a
    brk = torch.where(c > 0, room / c.clamp_min(1e-30), torch.full_like(a, float("inf")))
    order = brk.argsort(dim=1)
    brk_s = brk.gather(1, order)
    a_s, c_s, u_s = a.gather(1, order), c.gather(1, order), room.gather(1, order)
    # at breakpoint k: A_k = sum_{i<=k} a_i u_i (saturated), C_k = sum_{i>k} a_i c_i (linear)
    sat = torch.cumsum(a_s * u_s, dim=1)
    lin = (a_s * c_s).flip(1).cumsum(1).flip(1) - a_s * c_s
    finite_brk = torch.where(torch.isfinite(brk_s), brk_s, torch.zeros_like(brk_s))
    phi = sat + finite_brk * lin
    need = r.abs()[:, None]
    reach = (phi >= need) & torch.isfinite(brk_s)
    k = torch.where(reach.any(1), reach.float().argmax(1), torch.full_like(r, -1).long())
    km1 = (k - 1).clamp_min(0)
    sat_prev = torch.where(k > 0, sat.gather(1, km1[:, None]).squeeze(1), torch.zeros_like(r))
    lin_prev = torch.where(
        k > 0, lin.gather(1, km1[:, None]).squeeze(1), (a_s * c_s).sum(1)
    )  # before the first breakpoint every coordinate is on its linear piece
    t = (r.abs() - sat_prev) / lin_prev.clamp_min(1e-30)
    t = torch.where(k >= 0, t, torch.full_like(t, float("inf")))
    mag = torch.where(a > 0, torch.minimum(t[:, None] * c, room), torch.zeros_like(room))
    return s * mag


@register_attack
class FAB(EvasionAttack):
    """FAB (L-inf, L2), untargeted, targeted, or FAB-T over the top classes.

    Args:
        norm: ``linf`` | ``l2``.
        eps: optional; with it a point stops once it has an adversarial within eps, and
            restarts draw their start in a ball of half that radius (at most).
        steps: iterations per start (100 in the paper).
        restarts: starts per point (and per target class); the first starts at ``x``.
        n_target_classes: ``None``: untargeted FAB (nearest linearised boundary, ``K - 1``
            gradients per step). ``k``: FAB-T, one targeted run against each of the ``k``
            most likely other classes (AutoAttack uses 9), one gradient per step.
        max_bias: the paper's ``alpha_max``, the bound on the bias towards ``x``.
        extrapolation: the paper's ``eta`` (> 0), the overshoot factor of a projection.
        backward_step: the paper's ``beta`` in (0, 1], the step back after a success.

    Deprecated aliases: ``n_restarts``, ``alpha_max``, ``eta``, ``beta``.

    ``run(..., targeted=True)`` aims at the given target labels (one targeted run each).
    """

    name = "fab"
    requires = Access.GRADIENTS
    norms = ("linf", "l2")
    paper = "Croce & Hein 2020, arXiv:1907.02044"
    summary = "Fast Adaptive Boundary attack: minimum-norm, projects onto linearised boundaries."
    link = "arXiv:1907.02044"
    flags = frozenset({"iterative", "minimal_norm", "randomized", "targeted"})

    fast_params = {"steps": 10}

    @renamed_params(
        n_restarts="restarts", alpha_max="max_bias", eta="extrapolation", beta="backward_step"
    )
    def __init__(
        self,
        *,
        norm: str = "linf",
        eps: float | None = None,
        steps: int = 100,
        restarts: int = 1,
        n_target_classes: int | None = None,
        max_bias: float = 0.1,
        extrapolation: float = 1.05,
        backward_step: float = 0.9,
        seed: int | None = 0,
        batch_size: int = 512,
    ) -> None:
        self.norm = norm
        self.eps = eps
        self.steps = steps
        self.restarts = restarts
        self.n_target_classes = n_target_classes
        self.max_bias = max_bias
        self.extrapolation = extrapolation
        self.backward_step = backward_step
        self.seed = seed
        self.batch_size = batch_size

    def _validate(self) -> None:
        super()._validate()
        for field in ("steps", "restarts"):
            v = getattr(self, field)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"fab: {field} must be an integer >= 1, got {v!r}")
        k = self.n_target_classes
        if k is not None and (not isinstance(k, int) or k < 1):
            raise ConfigError(f"fab: n_target_classes must be None or an integer >= 1, got {k!r}")
        if not 0.0 <= float(self.max_bias) <= 1.0:
            raise ConfigError(f"fab: max_bias must be in [0, 1], got {self.max_bias!r}")
        if not 0.0 < float(self.backward_step) <= 1.0:
            raise ConfigError(f"fab: backward_step must be in (0, 1], got {self.backward_step!r}")
        self._positive(extrapolation=self.extrapolation)

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
        best = x.clone()
        best_norm = torch.full((n,), float("inf"), device=x.device)
        if targeted:  # y holds the target labels; success means predicting them
            true = target.labels(x)
            plans: list[torch.Tensor | None] = [y]
        elif self.n_target_classes is None:
            true, plans = y, [None]
        else:
            true = y
            ranked = target.logits(x).argsort(1, descending=True)
            ranked = ranked[ranked != y[:, None]].view(n, -1)  # other classes, most likely first
            k = min(self.n_target_classes, target.num_classes - 1)
            plans = [ranked[:, j] for j in range(k)]
        for aim in plans:
            for restart in range(self.restarts):
                todo = torch.arange(n, device=x.device)
                if eps is not None:  # fixed-eps use: points already done within eps rest
                    todo = todo[best_norm[todo] > eps * (1 + 1e-6)]
                if len(todo) == 0:
                    break
                self._single_run(
                    target,
                    x,
                    true,
                    y if targeted else None,
                    aim,
                    todo,
                    best,
                    best_norm,
                    eps=eps,
                    random_start=restart > 0,
                    generator=generator,
                )
        return best

    def _single_run(
        self,
        target: Target,
        x: torch.Tensor,
        true: torch.Tensor,
        goal: torch.Tensor | None,
        aim: torch.Tensor | None,
        todo: torch.Tensor,
        best: torch.Tensor,
        best_norm: torch.Tensor,
        *,
        eps: float | None,
        random_start: bool,
        generator: torch.Generator,
    ) -> None:
        """One start of FAB on the points ``todo``; updates ``best`` / ``best_norm`` in place."""
        view = (-1, *([1] * (x.dim() - 1)))
        x0 = x[todo]
        x1 = x0.clone()
        if random_start:
            radius = best_norm[todo].clamp_max(eps if eps is not None else float("inf"))
            radius = torch.where(torch.isfinite(radius), radius, torch.zeros_like(radius))
            unit = random_in_ball(x0.shape, 1.0, self.norm, generator=generator, device=x.device)
            x1 = target.clip(x0 + 0.5 * radius.view(view) * unit)
        lo = torch.broadcast_to(target.lower, x0.shape[1:]).reshape(1, -1)
        hi = torch.broadcast_to(target.upper, x0.shape[1:]).reshape(1, -1)
        active = torch.arange(len(todo), device=x.device)
        for _ in range(self.steps):
            if len(active) == 0:
                break
            xa, xo, ca = x1[active], x0[active], true[todo[active]]
            ta = aim[todo[active]] if aim is not None else None
            df, w = self._boundary(target, xa, ca, ta)
            m = len(active)
            flat_a, flat_o, wf = xa.reshape(m, -1), xo.reshape(m, -1), w.reshape(m, -1)
            # the hyperplane df + w . (z - xa) = 0, reached from xa and from xo
            r_a = -df
            r_o = -df - (wf * (flat_o - flat_a)).sum(1)
            d = project_hyperplane_box(
                torch.cat([flat_a, flat_o]),
                torch.cat([wf, wf]),
                torch.cat([r_a, r_o]),
                lo,
                hi,
                self.norm,
            )
            n_d = lp_norm(d, self.norm).clamp_min(1e-8)
            d_a, d_o = d[:m].view_as(xa), d[m:].view_as(xa)
            alpha = (n_d[:m] / (n_d[:m] + n_d[m:])).clamp(0.0, float(self.max_bias)).view(view)
            new = target.clip(
                (1 - alpha) * (xa + self.extrapolation * d_a)
                + alpha * (xo + self.extrapolation * d_o)
            )
            pred = target.labels(new)
            hit = pred == goal[todo[active]] if goal is not None else pred != ca
            if bool(hit.any()):
                idx = todo[active[hit]]
                norms = lp_norm(new[hit] - xo[hit], self.norm)
                better = norms < best_norm[idx]
                best[idx[better]] = new[hit][better]
                best_norm[idx[better]] = norms[better]
                new[hit] = xo[hit] + self.backward_step * (new[hit] - xo[hit])
            x1[active] = new
            if eps is not None:  # a point with an adversarial within eps is done
                active = active[best_norm[todo[active]] > eps * (1 + 1e-6)]

    def _boundary(
        self, target: Target, x: torch.Tensor, c: torch.Tensor, t: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f_t - f_c, grad)`` at ``x`` for the boundary to cross (nearest when untargeted)."""
        if t is not None:
            g, z = target.gradient(x, _difference(t, c))
            return (z.gather(1, t[:, None]) - z.gather(1, c[:, None])).squeeze(1), g
        dual = "l1" if self.norm == "linf" else "l2"
        best_dist = torch.full((len(x),), float("inf"), device=x.device)
        best_df = torch.zeros(len(x), device=x.device)
        best_g = torch.zeros_like(x)
        for cls in range(target.num_classes):
            rows = (c != cls).nonzero().flatten()
            if len(rows) == 0:
                continue
            cr = c[rows]
            g, z = target.gradient(x[rows], _difference(torch.full_like(cr, cls), cr))
            df = z[:, cls] - z.gather(1, cr[:, None]).squeeze(1)
            dist = df.abs() / (lp_norm(g, dual) + 1e-12)
            better = dist < best_dist[rows]
            upd = rows[better]
            best_dist[upd] = dist[better]
            best_df[upd] = df[better]
            best_g[upd] = g[better]
        return best_df, best_g


def _difference(t: torch.Tensor, c: torch.Tensor) -> Objective:
    """Objective ``z_t - z_c`` per row."""
    return lambda z: (z.gather(1, t[:, None]) - z.gather(1, c[:, None])).squeeze(1)

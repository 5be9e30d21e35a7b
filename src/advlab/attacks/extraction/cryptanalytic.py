"""Cryptanalytic (differential) extraction of ReLU networks from raw logits.

Carlini, Jagielski & Mironov, "Cryptanalytic Extraction of Neural Network Models", CRYPTO
2020 (arXiv:2003.04884).

A ReLU network is piecewise linear. Along a random line ``x0 + t v`` the output is linear
between *critical points*, where one hidden neuron's pre-activation crosses zero. This
implementation, in float64 throughout:

1. **Critical points.** Evaluate a random projection of the output on a grid along each
   line (one batch). Second differences that are not zero mark grid cells with a kink; an
   isolated kink is located exactly by intersecting the two linear pieces on either side
   (then checked with one more query); cells with several kinks are refined on a finer grid.
2. **Neuron rows, up to scale.** At a new critical point ``x*`` the Jacobians just before
   and just after it (forward differences, ``d + 1`` queries each, exact on a linear piece)
   differ by a rank-one matrix ``+-a_j w_j^T``: its dominant row gives the neuron's weight
   row ``w_j`` up to scale and sign, and ``b_j = -w_j . x*``. A critical point already on a
   known hyperplane costs nothing more.
3. **Final layer and signs (one hidden layer).** ``ReLU(-z) = ReLU(z) - z``, so with the
   rows in arbitrary orientation the network equals ``A ReLU(Z) + L x + c`` exactly, and a
   least-squares fit on random queries finds ``A, L, c``. A neuron whose orientation is
   flipped contributes ``-a_j w_j^T`` to ``L``; solving ``sum_j beta_j a_j w_j^T = -L`` for
   ``beta in {0, 1}^h`` gives the signs (the paper resolves signs differently; this is
   exact whenever the ``h`` rank-one matrices are linearly independent, ``h <= K d``).
   A refit without ``L`` gives the final layer. Parameters are recovered up to the
   unavoidable permutation and positive scaling of hidden neurons.
4. **Two hidden layers.** A first-layer neuron's critical points lie on one global
   hyperplane, a second-layer neuron's do not (its boundary bends at every first-layer
   hyperplane). Hyperplanes supported by at least ``min_support`` critical points from
   different lines, and kinks everywhere on them, are the first layer. The other critical
   points are grouped by the output factor of their Jacobian jump (one group per
   second-layer neuron) and :mod:`advlab.attacks.extraction.relu_deep` solves the second
   layer's rows, both layers' signs and the final layer exactly (see there). A
   second-layer neuron that never switches on the box is linear there and is kept as a
   linear skip term; when the solved copy does not fit fresh queries (a first-layer
   neuron, or a neuron that does switch, was missed) the copy falls back to fitting the
   deeper layers by gradient descent, and the report says which happened.

Targets that return probabilities are handled through log-probability differences to
class 0, which are again a ReLU network's outputs (the final layer then is known up to a
common row). Float32 targets limit the precision to about 1e-6.

Example:
    >>> res = Cryptanalytic(hidden_layers=1).extract(target)
    >>> res.param_error, res.queries
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import torch

from advlab.access import Access
from advlab.attacks.extraction.base import (
    Evaluator,
    ExtractionAttack,
    Stolen,
    input_dtype,
)
from advlab.attacks.extraction.relu_deep import (
    CritPoint,
    TwoLayerNet,
    deep_param_error,
    solve_second_layer,
)
from advlab.attacks.extraction.relu_layers import (
    F64,
    Hyperplane,
    ReLUNet,
    first_layer_error,
    fit_rest,
    param_error,
    solve_one_layer,
)
from advlab.errors import BudgetExhausted, ConfigError, InputError
from advlab.registry import register_attack
from advlab.targets.base import Target
from advlab.vocab import renamed_params

log = logging.getLogger(__name__)

__all__ = ["Cryptanalytic", "ReLUNet"]


@register_attack
class Cryptanalytic(ExtractionAttack):
    """Differential extraction of a one- or two-hidden-layer ReLU network.

    Args:
        hidden_layers: 1 or 2 (both layer by layer from critical points).
        lines: maximum number of random lines searched for critical points.
        patience: stop after this many consecutive lines that reveal no new neuron.
        grid: points per line (one batch per line).
        radius: half-width of the search box when the target's bounds are infinite.
        min_support: critical points (from distinct lines) needed to accept a first-layer
            hyperplane in the two-layer case.
        fit_queries: random queries for the final-layer least squares (default
            ``4 (h + d + 1)``).
        query_budget: cap on the queries this attack spends (default 2**20).
        seed: seed of lines and projections.
    """

    name = "cryptanalytic"
    requires = Access.SCORES
    paper = "Carlini, Jagielski & Mironov 2020, CRYPTO, arXiv:2003.04884"
    summary = "Critical points + second differences: ReLU-network weights to float precision."
    link = "arXiv:2003.04884"
    flags = frozenset({"query_based", "randomized"})

    fast_params = {"lines": 40, "patience": 10, "grid": 256, "query_budget": 2000}
    expected_failures = dict.fromkeys(
        (
            "respects_query_budget",
            "result_json_roundtrip",
            "deterministic_under_seed",
            "efficacy_floor",
        ),
        "recovers one- or two-hidden-layer ReLU MLPs from critical points; the kit's CNN target "
        "is not one (tests/extraction/test_exact.py checks it on ReLU MLPs)",
    )

    @renamed_params(max_queries="query_budget")
    def __init__(
        self,
        *,
        hidden_layers: int = 1,
        lines: int = 400,
        patience: int = 40,
        grid: int = 1024,
        radius: float = 4.0,
        min_support: int = 3,
        fit_queries: int | None = None,
        query_budget: int = 2**20,
        seed: int | None = 0,
    ) -> None:
        self.hidden_layers = hidden_layers
        self.lines = lines
        self.patience = patience
        self.grid = grid
        self.radius = radius
        self.min_support = min_support
        self.fit_queries = fit_queries
        self.query_budget = query_budget
        self.seed = seed

    def _validate(self) -> None:
        if self.hidden_layers not in (1, 2):
            raise ConfigError(
                f"cryptanalytic: hidden_layers must be 1 or 2, got {self.hidden_layers!r}"
            )
        for k in ("lines", "patience", "grid", "min_support", "query_budget"):
            v = getattr(self, k)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"cryptanalytic: {k} must be a positive integer, got {v!r}")
        if self.grid < 16:
            raise ConfigError("cryptanalytic: grid must be >= 16")
        self._positive(radius=self.radius)

    def min_queries(self, target: Target) -> int:
        d = int(np.prod(target.input_shape))
        return self.grid + 2 * (d + 1)

    # ------------------------------------------------------------------ oracle
    def _g(self, target: Target, xs: torch.Tensor) -> torch.Tensor:
        """Piecewise-linear outputs (logits, or log-prob differences to class 0), float64."""
        if self._spent + len(xs) > self.query_budget:
            raise BudgetExhausted(f"cryptanalytic: query_budget={self.query_budget} reached")
        self._spent += len(xs)
        xq = xs.reshape(len(xs), *target.input_shape).to(target.device, self._dtype)
        out = self._query_scores(target, xq).to(F64).cpu()
        if target.output == "probs":
            if bool((out <= 0).any()):
                raise InputError(
                    "cryptanalytic: the target returned zero probabilities; the attack needs "
                    "raw logits or strictly positive probabilities"
                )
            lp = torch.log(out)
            return lp[:, 1:] - lp[:, :1]
        return out

    # ------------------------------------------------------------------ main
    def _extract(
        self,
        target: Target,
        x: torch.Tensor | None,
        *,
        generator: torch.Generator,
        evaluate: Evaluator,
    ) -> Stolen:
        self._spent = 0
        self._dtype = input_dtype(target)
        # tolerances scale with the precision the target computes in
        self._rel = 1.0 if self._dtype == F64 else 1e4
        if self._dtype != F64:
            log.warning(
                "cryptanalytic: the target computes in %s; precision is limited", self._dtype
            )
        d = int(np.prod(target.input_shape))
        g = torch.Generator().manual_seed(int(self.seed or 0))
        lo, hi = _box(target, self.radius, d)
        planes: list[Hyperplane] = []
        orient = torch.randn(d, generator=g, dtype=F64)
        stopped, message = False, ""
        lines_done, quiet, crit_found, rejected = 0, 0, 0, 0
        try:
            for line in range(self.lines):
                lines_done = line + 1
                x0 = lo + (hi - lo) * torch.rand(d, generator=g, dtype=F64)
                v = torch.randn(d, generator=g, dtype=F64)
                v = v / v.norm()
                t_lo, t_hi = _clip_line(x0, v, lo, hi)
                proj = torch.randn(self._out_dim(target), generator=g, dtype=F64)
                crit = self._critical_points(target, x0, v, t_lo, t_hi, proj)
                crit_found += len(crit)
                new = 0
                for t_star, gap in crit:
                    xs = x0 + t_star * v
                    known = _on_known(planes, xs, 1e-7 * self._rel)
                    if known is not None:
                        if line not in known.lines:
                            known.support += 1
                            known.lines.add(line)
                        continue
                    plane = self._neuron_row(target, xs, v, gap, orient)
                    if plane is None:
                        rejected += 1
                        continue
                    same = _same_plane(planes, plane, 1e-6 * self._rel)
                    if same is not None:
                        if line not in same.lines:
                            same.support += 1
                            same.lines.add(line)
                        continue
                    plane.lines.add(line)
                    planes.append(plane)
                    new += 1
                quiet = 0 if new else quiet + 1
                if quiet >= self.patience:
                    # one hidden layer: an (unsigned) exact fit proves every neuron was found
                    if (
                        self.hidden_layers == 2
                        or not planes
                        or self._complete(target, planes, lo, hi, g)
                    ):
                        break
                    quiet = -self.patience  # neurons are missing: search longer
        except BudgetExhausted as exc:
            stopped, message = True, str(exc)
            log.warning("cryptanalytic stopped early: %s", exc)
        extra: dict[str, Any] = {
            "lines": lines_done,
            "critical_points": crit_found,
            "rejected_points": rejected,
            "hyperplanes": len(planes),
            "precision": str(self._dtype).replace("torch.", ""),
        }
        if not planes:
            raise InputError(
                "cryptanalytic: no critical point found; the target is not a ReLU network "
                "that is piecewise linear on its input box, or its outputs are not raw"
            )
        if self.hidden_layers == 1:
            return self._finish_one(target, planes, lo, hi, g, extra, stopped, message)
        return self._finish_two(target, planes, lo, hi, g, extra, stopped, message)

    def _out_dim(self, target: Target) -> int:
        return target.num_classes - 1 if target.output == "probs" else target.num_classes

    # ------------------------------------------------------------------ step 1
    def _critical_points(
        self,
        target: Target,
        x0: torch.Tensor,
        v: torch.Tensor,
        t_lo: float,
        t_hi: float,
        proj: torch.Tensor,
        depth: int = 0,
    ) -> list[tuple[float, float]]:
        """Kinks of ``proj . g(x0 + t v)`` on ``[t_lo, t_hi]``: ``(t*, distance to the next
        grid point)`` pairs."""
        n = self.grid if depth == 0 else 64
        ts = torch.linspace(t_lo, t_hi, n, dtype=F64)
        s = self._g(target, x0[None] + ts[:, None] * v[None]) @ proj
        step = (t_hi - t_lo) / (n - 1)
        d2 = s[2:] - 2 * s[1:-1] + s[:-2]
        tol = 1e-9 * self._rel * (float(s.abs().max()) + 1.0)
        bad = (
            d2.abs() > tol
        ).nonzero().flatten() + 1  # grid indices i with a kink in (t_{i-1}, t_{i+1})
        out: list[tuple[float, float]] = []
        runs: list[tuple[int, int]] = []
        for i in bad.tolist():
            if runs and i == runs[-1][1] + 1:
                runs[-1] = (runs[-1][0], i)
            else:
                runs.append((i, i))
        for i, j in runs:
            if i - 2 < 0 or j + 2 > n - 1:
                continue  # too close to the end of the line to see both pieces
            if j - i <= 1:
                sl = (s[i - 1] - s[i - 2]) / step
                sr = (s[j + 2] - s[j + 1]) / step
                if abs(float(sl - sr)) > 0:
                    ta, tb = float(ts[i - 1]), float(ts[j + 1])
                    t_star = float((s[j + 1] - s[i - 1] + sl * ta - sr * tb) / (sl - sr))
                    if ta - 1e-12 <= t_star <= tb + 1e-12:
                        check = self._g(target, (x0 + t_star * v)[None]) @ proj
                        pred = s[i - 1] + sl * (t_star - ta)
                        if abs(float(check[0] - pred)) <= 1e-7 * self._rel * (
                            abs(float(pred)) + 1.0
                        ):
                            out.append((t_star, step))
                            continue
            if depth < 4 and (ts[j + 1] - ts[i - 1]) > 1e-9:
                out += self._critical_points(
                    target, x0, v, float(ts[i - 1]), float(ts[j + 1]), proj, depth + 1
                )
        return out

    # ------------------------------------------------------------------ step 2
    def _jacobian(self, target: Target, x: torch.Tensor, eta: float) -> torch.Tensor:
        d = len(x)
        pts = torch.cat([x[None], x[None] + eta * torch.eye(d, dtype=F64)])
        out = self._g(target, pts)
        return (out[1:] - out[:1]).T / eta  # (outputs, d)

    def _neuron_row(
        self, target: Target, xs: torch.Tensor, v: torch.Tensor, gap: float, orient: torch.Tensor
    ) -> Hyperplane | None:
        eps = gap / 4
        eta = eps * (1e-3 if self._rel == 1.0 else 0.2)
        jp = self._jacobian(target, xs + eps * v, eta)
        jm = self._jacobian(target, xs - eps * v, eta)
        diff = jp - jm
        sv = torch.linalg.svdvals(diff)
        if float(sv[0]) == 0 or (len(sv) > 1 and float(sv[1]) > 1e-5 * self._rel * float(sv[0])):
            return None  # not a single-neuron kink (two hyperplanes close by)
        row = diff[int(diff.norm(dim=1).argmax())]
        w = row / row.norm()
        if float(w @ orient) < 0:
            w = -w
        col = diff[:, int(diff.norm(dim=0).argmax())]
        return Hyperplane(w=w, b=float(-(w @ xs)), point=xs, out=col / col.norm())

    def _is_global(
        self,
        target: Target,
        plane: Hyperplane,
        lo: torch.Tensor,
        hi: torch.Tensor,
        g: torch.Generator,
        checks: int = 4,
    ) -> bool:
        """A first-layer hyperplane is a kink everywhere on it; a deeper neuron's is not."""
        passed = 0
        for _ in range(8 * checks):
            r = lo + (hi - lo) * torch.rand(len(lo), generator=g, dtype=F64)
            xp = r - (plane.w @ r + plane.b) * plane.w
            if bool((xp < lo).any()) or bool((xp > hi).any()):
                continue
            delta = 1e-4 * float((hi - lo).min())
            ts = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], dtype=F64) * delta
            out = self._g(target, xp[None] + ts[:, None] * plane.w[None])
            left = out[0] - 2 * out[1] + out[2]
            right = out[2] - 2 * out[3] + out[4]
            mid = out[1] - 2 * out[2] + out[3]
            scale = 1e-9 * self._rel * (float(out.abs().max()) + 1.0)
            if float(left.abs().max()) > scale or float(right.abs().max()) > scale:
                continue  # another kink nearby; inconclusive
            if float(mid.abs().max()) <= scale:
                return False
            passed += 1
            if passed >= checks:
                return True
        return passed > 0

    def _complete(
        self,
        target: Target,
        planes: list[Hyperplane],
        lo: torch.Tensor,
        hi: torch.Tensor,
        g: torch.Generator,
    ) -> bool:
        """Whether ``A ReLU(Z) + L x + c`` fits random queries exactly (all neurons found)."""
        w = torch.stack([p.w for p in planes])
        b = torch.tensor([p.b for p in planes], dtype=F64)
        xs, ys = self._fit_points(target, lo, hi, g, len(planes))
        design = torch.cat([torch.relu(xs @ w.T + b), xs, torch.ones(len(xs), 1, dtype=F64)], 1)
        sol = torch.linalg.lstsq(design, ys).solution
        resid = float((design @ sol - ys).abs().max() / (ys.abs().max() + 1e-300))
        return resid < 1e-6 * self._rel

    # ------------------------------------------------------------------ step 3 (one layer)
    def _fit_points(
        self, target: Target, lo: torch.Tensor, hi: torch.Tensor, g: torch.Generator, h: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        d = len(lo)
        n = self.fit_queries or 4 * (h + d + 1)
        xs = lo + (hi - lo) * torch.rand(n, d, generator=g, dtype=F64)
        return xs, self._g(target, xs)

    def _finish_one(
        self,
        target: Target,
        planes: list[Hyperplane],
        lo: torch.Tensor,
        hi: torch.Tensor,
        g: torch.Generator,
        extra: dict[str, Any],
        stopped: bool,
        message: str,
    ) -> Stolen:
        w = torch.stack([p.w for p in planes])
        b = torch.tensor([p.b for p in planes], dtype=F64)
        xs, ys = self._fit_points(target, lo, hi, g, len(w))
        w, b, a2, b2, lin_final, info = solve_one_layer(w, b, xs, ys, self._rel)
        model = ReLUNet(w, b, a2, b2, lin_final, pad_class0=target.output == "probs")
        extra.update(info)
        error, rel = param_error(target, w, b, a2, b2, extra)
        extra["param_error_relative"] = rel
        return Stolen(
            model=model,
            parameters={
                "hidden_dim": len(w),
                "w1": w.numpy(),
                "b1": b.numpy(),
                "w2": a2.numpy(),
                "b2": b2.numpy(),
                "identifiable_as": "hidden neurons up to permutation and positive scaling "
                "(rows of w1 have unit norm)",
            },
            param_error=error,
            extra=extra,
            stopped_early=stopped,
            message=message,
        )

    # ------------------------------------------------------------------ step 4 (two layers)
    def _finish_two(
        self,
        target: Target,
        planes: list[Hyperplane],
        lo: torch.Tensor,
        hi: torch.Tensor,
        g: torch.Generator,
        extra: dict[str, Any],
        stopped: bool,
        message: str,
    ) -> Stolen:
        first = [
            p
            for p in planes
            if len(p.lines) >= self.min_support and self._is_global(target, p, lo, hi, g)
        ]
        extra["first_layer_found"] = len(first)
        extra["other_hyperplanes"] = len(planes) - len(first)
        if not first:
            raise InputError(
                "cryptanalytic: no hyperplane is supported by enough critical points to be a "
                f"first-layer neuron (min_support={self.min_support}); search more lines"
            )
        w = torch.stack([p.w for p in first])
        b = torch.tensor([p.b for p in first], dtype=F64)
        first_layer_error(target, w, b, extra)
        pad = target.output == "probs"
        firsts = {id(p) for p in first}
        deeper = [
            CritPoint(p.point, p.w, p.out)
            for p in planes
            if id(p) not in firsts and p.point is not None and p.out is not None
        ]
        n_fit = self.fit_queries or 16 * (len(w) + len(lo) + 1)
        try:
            xs = lo + (hi - lo) * torch.rand(n_fit, len(lo), generator=g, dtype=F64)
            ys = self._g(target, xs)
        except BudgetExhausted as exc:
            return Stolen(extra=extra, stopped_early=True, message=str(exc))
        sol = solve_second_layer(w, b, deeper, xs, ys, self._rel)
        if sol is not None:
            extra.update(sol["info"])
        # a copy whose residual on fresh queries is tiny (a neuron that never switches on the
        # box is linear there and lands in the skip term); otherwise fall back to fitting
        if sol is not None and sol["info"]["fit_residual"] < 1e-3:
            layers = sol["layers"]
            extra["deeper_layers"] = (
                "extracted from critical points"
                if sol["lin"] is None
                else "extracted from critical points, with a linear skip term on the first "
                "layer for second-layer neurons not pinned down"
            )
            error = deep_param_error(target, layers, extra)
            return Stolen(
                model=TwoLayerNet(layers, sol["lin"], pad),
                parameters={
                    "hidden_dims": [len(layers[0]), len(layers[2])],
                    **{k: t.numpy() for k, t in zip(_NAMES, layers, strict=True)},
                    "identifiable_as": "hidden neurons up to permutation and positive scaling "
                    "(incoming rows of w1 and w2 have unit norm)",
                },
                param_error=error,
                extra=extra,
                stopped_early=stopped,
                message=message,
            )
        # not every neuron was pinned down: complete the copy by fitting (not exact), and
        # score the rows that were solved (the last layer is then not comparable)
        if sol is not None:
            deep_param_error(target, sol["layers"], extra)
            extra.get("param_error_by_layer", {}).pop("w3", None)
            extra.get("param_error_by_layer", {}).pop("b3", None)
        try:
            xs2 = lo + (hi - lo) * torch.rand(4000, len(lo), generator=g, dtype=F64)
            ys2 = self._g(target, xs2)
            model: Any = fit_rest(w, b, ys2, xs2, seed=self.seed, pad_class0=pad)
        except BudgetExhausted as exc:
            stopped, message, model = True, str(exc), None
        extra["deeper_layers"] = "fitted by gradient descent on queried points (not exact)"
        if sol is not None and model is not None:
            # keep whichever copy is closer on the held-out queries ``xs``
            part = TwoLayerNet(sol["layers"], sol["lin"], pad)
            with torch.no_grad():
                errs = [(m(xs)[:, 1:] if pad else m(xs)) - ys for m in (part, model)]
            if float(errs[0].abs().mean()) < float(errs[1].abs().mean()):
                model = part
                extra["deeper_layers"] = (
                    "partly extracted from critical points (some neurons missing; not exact)"
                )
        return Stolen(
            model=model,
            parameters={
                "first_layer_dim": len(first),
                "w1": w.numpy(),
                "b1": b.numpy(),
                "identifiable_as": "first-layer neurons up to sign, permutation and scaling",
            },
            param_error=extra.get("first_layer_error_up_to_sign"),
            extra=extra,
            stopped_early=stopped,
            message=message,
        )


_NAMES = ("w1", "b1", "w2", "b2", "w3", "b3")


def _box(target: Target, radius: float, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    lo = torch.broadcast_to(target.lower.cpu(), target.input_shape).to(F64).reshape(-1)
    hi = torch.broadcast_to(target.upper.cpu(), target.input_shape).to(F64).reshape(-1)
    lo = torch.where(torch.isfinite(lo), lo, torch.full_like(lo, -radius))
    hi = torch.where(torch.isfinite(hi), hi, torch.full_like(hi, radius))
    if bool((hi <= lo).any()):
        raise ConfigError(
            "cryptanalytic: the target's bounds leave no room to search (lower == upper)"
        )
    return lo, hi


def _clip_line(
    x0: torch.Tensor, v: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor
) -> tuple[float, float]:
    """The interval of ``t`` with ``x0 + t v`` inside the box (x0 is inside)."""
    t_lo, t_hi = -math.inf, math.inf
    for i in range(len(v)):
        vi = float(v[i])
        if abs(vi) < 1e-15:
            continue
        a = (float(lo[i]) - float(x0[i])) / vi
        c = (float(hi[i]) - float(x0[i])) / vi
        t_lo = max(t_lo, min(a, c))
        t_hi = min(t_hi, max(a, c))
    return t_lo, t_hi


def _on_known(planes: list[Hyperplane], xs: torch.Tensor, tol: float) -> Hyperplane | None:
    if not planes:
        return None
    w = torch.stack([p.w for p in planes])
    b = torch.tensor([p.b for p in planes], dtype=F64)
    dist = (w @ xs + b).abs()
    k = int(dist.argmin())
    return planes[k] if float(dist[k]) < tol * (1.0 + float(xs.abs().max())) else None


def _same_plane(planes: list[Hyperplane], new: Hyperplane, tol: float) -> Hyperplane | None:
    for p in planes:
        if float(p.w @ new.w) > 1 - tol and abs(p.b - new.b) < 100 * tol * (1.0 + abs(p.b)):
            return p
    return None

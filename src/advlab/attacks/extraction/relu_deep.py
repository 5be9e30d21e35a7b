"""Second hidden layer of a ReLU network, cryptanalytically, once the first is known.

Carlini, Jagielski & Mironov, "Cryptanalytic Extraction of Neural Network Models", CRYPTO
2020 (arXiv:2003.04884), extract deeper layers from critical points of deeper neurons;
Canales-Martinez et al. 2024 (arXiv:2310.08708) resolve signs in polynomial time. This
module takes the first-layer hyperplanes ``w_j . x + b_j = 0`` (unit rows, unknown
orientation) and the *other* critical points the line search found, and solves, in float64:

1. **Grouping.** At a critical point of second-layer neuron ``k`` the output Jacobian jumps
   by the rank-one ``A3[:, k] (grad z2_k)^T``; its output factor ``A3[:, k]`` is the same at
   every critical point of ``k``, so points are grouped by it (up to sign; needs >= 2
   outputs).
2. **Rows, up to scale.** With the first layer in arbitrary orientation,
   ``ReLU(-z) = ReLU(z) - z`` gives ``z2_k(x) = alpha_k . ReLU(Z(x)) + L_k x + c_k`` exactly.
   Each critical point ``x_i`` gives one linear equation (``z2_k(x_i) = 0``) and ``d`` more
   from its Jacobian jump ``grad z2_k(x_i) = lambda_i r_i`` (``r_i`` measured, ``lambda_i``
   unknown). The homogeneous system's null vector is ``(alpha_k, L_k, c_k)`` up to scale.
3. **First-layer signs.** A flipped first-layer neuron ``j`` contributes
   ``-alpha_kj w_j`` to every ``L_k``: solving ``sum_j beta_j alpha_{:, j} w_j^T = -L`` for
   ``beta in {0, 1}^h1`` gives the orientations (exact when the ``h1`` rank-one matrices are
   independent, ``h1 <= h2 d``). This is the identity the one-layer case uses, applied one
   layer deeper; it replaces the paper's sign search.
4. **Second-layer signs and the last layer.** On the first layer's (now exact) activations
   the rest is a one-hidden-layer network; :func:`solve_one_layer` resolves the second
   layer's signs and the final layer by least squares.

Parameters are recovered up to permutation and positive scaling of hidden neurons.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from advlab.attacks.extraction.relu_layers import F64, solve_one_layer, true_layers
from advlab.targets.base import Target

log = logging.getLogger(__name__)


@dataclass
class CritPoint:
    """A critical point ``x`` of a deeper neuron, the unit direction ``r`` of its input-side
    Jacobian jump and the unit output factor ``u`` (both up to sign)."""

    x: torch.Tensor
    r: torch.Tensor
    u: torch.Tensor


class TwoLayerNet(nn.Module):
    """The stolen float64 network ``A3 ReLU(A2 ReLU(W1 x + b1) + b2) + L ReLU(W1 x + b1) + b3``
    (``L`` zero when the second layer's signs are resolved)."""

    def __init__(self, layers: list[torch.Tensor], lin: torch.Tensor | None, pad: bool) -> None:
        super().__init__()
        names = ("w1", "b1", "w2", "b2", "w3", "b3")
        for n, t in zip(names, layers, strict=True):
            setattr(self, n, nn.Parameter(t.to(F64), requires_grad=False))
        lin_t = torch.zeros(layers[4].shape[0], layers[0].shape[0], dtype=F64)
        self.lin = nn.Parameter(lin_t if lin is None else lin.to(F64), requires_grad=False)
        self.pad = pad

    w1: nn.Parameter
    b1: nn.Parameter
    w2: nn.Parameter
    b2: nn.Parameter
    w3: nn.Parameter
    b3: nn.Parameter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(x.reshape(len(x), -1).to(F64) @ self.w1.T + self.b1)
        out = torch.relu(h @ self.w2.T + self.b2) @ self.w3.T + h @ self.lin.T + self.b3
        if self.pad:
            out = torch.cat([torch.zeros(len(x), 1, dtype=F64, device=x.device), out], 1)
        return out


def group_by_output(points: list[CritPoint], tol: float) -> list[list[CritPoint]]:
    """Critical points grouped by their output factor (one group per deeper neuron)."""
    groups: list[list[CritPoint]] = []
    for p in points:
        for grp in groups:
            if abs(float(grp[0].u @ p.u)) > 1 - tol:
                grp.append(p)
                break
        else:
            groups.append([p])
    return groups


def _solve_row(
    pts: list[CritPoint],
    w1: torch.Tensor,
    b1: torch.Tensor,
    with_lin: bool,
    drop: int = 3,
) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """Null vector of the critical-point equations of one neuron: ``(alpha, L, c)`` up to
    scale, with the smallest and the next singular value relative to the largest."""
    h1, d = w1.shape
    nl = d if with_lin else 0
    n = len(pts)
    cols = h1 + nl + 1 + n
    rows = []
    for i, p in enumerate(pts):
        z = w1 @ p.x + b1
        val = torch.zeros(1, cols, dtype=F64)
        val[0, :h1] = torch.relu(z)
        if with_lin:
            val[0, h1 : h1 + d] = p.x
        val[0, h1 + nl] = 1.0
        grad = torch.zeros(d, cols, dtype=F64)
        grad[:, :h1] = (w1 * (z > 0).to(F64)[:, None]).T
        if with_lin:
            grad[:, h1 : h1 + d] = torch.eye(d, dtype=F64)
        grad[:, h1 + nl + 1 + i] = -p.r
        rows += [val, grad]
    mat = torch.cat(rows)
    sv = torch.linalg.svd(mat, full_matrices=True)
    theta = sv.Vh[-1]
    s = sv.S
    if drop > 0 and n > 2:
        # a point measured across a second kink spoils the system: drop outliers
        per = (mat @ theta).abs().reshape(n, d + 1).max(1).values
        bad = per > 10 * float(per.median()) + 1e-12
        if bool(bad.any()) and int(bad.sum()) <= n // 4:
            keep = [p for p, b in zip(pts, bad.tolist(), strict=True) if not b]
            return _solve_row(keep, w1, b1, with_lin, drop - 1)
    smallest = float(s[-1]) if len(s) == cols else 0.0
    second = float(s[-2]) if len(s) >= cols - 1 and cols >= 2 else 0.0
    if len(s) < cols:  # fewer equations than unknowns: not determined
        return theta[: h1 + nl], theta[h1 + nl : h1 + nl + 1], 1.0, 0.0
    return (
        theta[: h1 + nl],
        theta[h1 + nl : h1 + nl + 1],
        smallest / float(s[0]),
        second / float(s[0]),
    )


def solve_second_layer(
    w1: torch.Tensor,
    b1: torch.Tensor,
    points: list[CritPoint],
    xs: torch.Tensor,
    ys: torch.Tensor,
    rel: float,
    min_points: int = 3,
) -> dict[str, Any] | None:
    """Layers 2 and 3 (and layer 1's signs) from critical points of deeper neurons.

    ``w1, b1``: unit first-layer rows in arbitrary orientation; ``xs, ys``: random queries
    and outputs for the final least squares. Returns the layers, the linear skip term (when
    the second layer's signs stay unresolved) and diagnostics; ``None`` when no group of
    critical points determines a neuron.
    """
    h1, d = w1.shape
    need = max(min_points, h1 // max(d - 1, 1) + 2)
    groups = group_by_output(points, 1e-6 * rel)
    sizes = sorted((len(g) for g in groups), reverse=True)
    rows: list[tuple[torch.Tensor, list[CritPoint]]] = []
    later: list[list[CritPoint]] = []
    for grp in groups:
        if len(grp) < need:
            continue
        theta, _, res, second = _solve_row(grp, w1, b1, with_lin=True)
        log.debug("group of %d points: singular values %.3g, %.3g", len(grp), res, second)
        if _determined(res, second, rel):
            rows.append((theta / theta.norm(), grp))
        else:
            later.append(grp)  # retried once the first layer's signs are known
    info: dict[str, Any] = {
        "deeper_groups": len(groups),
        "deeper_group_sizes": sizes[:12],
    }
    if not rows:
        return None
    alpha = torch.stack([t[:h1] for t, _ in rows])
    lin = torch.stack([t[h1 : h1 + d] for t, _ in rows])
    mats = torch.stack([torch.outer(alpha[:, j], w1[j]).reshape(-1) for j in range(h1)], 1)
    beta = torch.linalg.lstsq(mats, -lin.reshape(-1, 1)).solution.flatten()
    flip = beta > 0.5
    info["first_layer_sign_residual"] = float((beta - flip.to(F64)).abs().max())
    info["first_layer_signs_resolved"] = info["first_layer_sign_residual"] < 1e-3 * rel
    w1 = torch.where(flip[:, None], -w1, w1)
    b1 = torch.where(flip, -b1, b1)
    w2s, b2s = [], []
    rejected = 0
    for grp, retry in [(g, False) for _, g in rows] + [(g, True) for g in later]:
        a, c, res, second = _solve_row(grp, w1, b1, with_lin=False)
        if retry and not _determined(res, second, rel):
            rejected += 1
            continue
        nrm = a.norm()
        w2s.append(a / nrm)
        b2s.append(c / nrm)
    info["second_layer_found"] = len(w2s)
    info["second_layer_rejected_groups"] = rejected
    w2 = torch.stack(w2s)
    b2 = torch.cat(b2s)
    hid = torch.relu(xs @ w1.T + b1)
    w2, b2, w3, b3, lin_final, one = solve_one_layer(w2, b2, hid, ys, rel)
    info["second_layer_signs_resolved"] = one["signs_resolved"]
    if lin_final is not None:
        w2, b2, b3, lin_final, rank = _low_rank_signs(w2, b2, w3, b3, lin_final, rel)
        # resolved against a skip term of this rank (the always-on neurons)
        info["second_layer_signs_resolved"] = True
        info["skip_rank"] = rank
    fit = torch.relu(hid @ w2.T + b2) @ w3.T + b3
    if lin_final is not None:
        fit = fit + hid @ lin_final.T
    info["fit_residual"] = float((fit - ys).abs().max() / (ys.abs().max() + 1e-300))
    return {"layers": [w1, b1, w2, b2, w3, b3], "lin": lin_final, "info": info}


def _determined(res: float, second: float, rel: float) -> bool:
    """One clear null direction: the smallest singular value at the noise floor, the next
    well above it (points that all lie in a few linear regions leave several)."""
    return res <= 1e-7 * rel and second >= 1e-5 and res <= 1e-3 * second


def _rank(m: torch.Tensor, tol: float) -> tuple[int, float]:
    sv = torch.linalg.svdvals(m)
    return int((sv > tol).sum()), float(sv.sum())


def _low_rank_signs(
    w2: torch.Tensor,
    b2: torch.Tensor,
    w3: torch.Tensor,
    b3: torch.Tensor,
    lin: torch.Tensor,
    rel: float,
    exhaustive: int = 12,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, int]:
    """Second-layer signs when a linear skip term remains.

    Second-layer neurons that never switch on the input box (always on) are linear there and
    have no critical point; they leave a skip term ``L = sum_m a_m alpha_m^T`` of rank at
    most their number. A wrongly oriented found neuron ``k`` adds ``-a_k alpha_k^T`` to it, so
    the orientation that leaves ``L`` of lowest rank (then smallest nuclear norm) is chosen:
    all ``2^h2`` when ``h2 <= exhaustive``, else single flips greedily. Sound when the
    outputs outnumber the always-on neurons.
    """
    h2 = len(w2)
    terms = [torch.outer(w3[:, k], w2[k]) for k in range(h2)]
    tol = 1e-6 * rel * max(float(t.norm()) for t in terms) if terms else 0.0

    def score(mask: list[bool]) -> tuple[int, float]:
        m = lin.clone()
        for k in range(h2):
            if mask[k]:
                m = m + terms[k]
        return _rank(m, tol)

    if h2 <= exhaustive:
        masks = [[bool(i >> k & 1) for k in range(h2)] for i in range(2**h2)]
        best = min(masks, key=score)
    else:
        best = [False] * h2
        cur = score(best)
        improved = True
        while improved:
            improved = False
            for k in range(h2):
                trial = best.copy()
                trial[k] = not trial[k]
                sc = score(trial)
                if sc < cur:
                    best, cur, improved = trial, sc, True
    flip = torch.tensor(best)
    new_lin = lin + sum((terms[k] for k in range(h2) if best[k]), torch.zeros_like(lin))
    b3 = b3 + sum((w3[:, k] * b2[k] for k in range(h2) if best[k]), torch.zeros_like(b3))
    w2 = torch.where(flip[:, None], -w2, w2)
    b2 = torch.where(flip, -b2, b2)
    rank = _rank(new_lin, tol)[0]
    return w2, b2, b3, (new_lin if rank else None), rank


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / max(float(b.abs().max()), 1e-12))


def deep_param_error(
    target: Target, layers: list[torch.Tensor], extra: dict[str, Any]
) -> float | None:
    """Largest relative error per layer of a recovered two-hidden-layer net against the
    white-box truth, after normalising hidden neurons to unit incoming rows and matching
    permutations (recorded in ``extra``; ``None`` when not comparable)."""
    truth = true_layers(target)
    if truth is None or len(truth) != 3:
        return None
    (tw1, tb1), (tw2, tb2), (tw3, tb3) = truth
    w1, b1, w2, b2, w3, b3 = layers
    s1 = tw1.norm(dim=1)
    t1w, t1b = tw1 / s1[:, None], tb1 / s1
    t2 = tw2 * s1[None]  # acts on unit first-layer neurons
    sim1 = w1 @ t1w.T
    m1 = sim1.argmax(1)
    if len(set(m1.tolist())) != len(w1) or bool((sim1.max(1).values < 0.999).any()):
        extra["param_error_note"] = "first-layer neurons do not match the true ones"
        return None
    t2 = t2[:, m1]  # columns in recovered order (true neurons not found are dropped)
    s2 = t2.norm(dim=1)
    t2w, t2b = t2 / s2[:, None], tb2 / s2
    sim2 = w2 @ t2w.T
    m2 = sim2.argmax(1)
    if len(set(m2.tolist())) != len(w2) or bool((sim2.max(1).values < 0.999).any()):
        extra["param_error_note"] = "second-layer neurons do not match the true ones"
        return None
    t3 = tw3 * s2[None]
    if target.output == "probs":
        t3, tb3 = t3[1:] - t3[:1], tb3[1:] - tb3[:1]
    errs = {
        "w1": _rel_err(w1, t1w[m1]),
        "b1": _rel_err(b1, t1b[m1]),
        "w2": _rel_err(w2, t2w[m2]),
        "b2": _rel_err(b2, t2b[m2]),
        "w3": _rel_err(w3, t3[:, m2]),
        "b3": _rel_err(b3, tb3),
    }
    extra["param_error_by_layer"] = errs
    extra["true_dims"] = [int(tw1.shape[0]), int(tw2.shape[0])]
    if len(w2) < len(tw2) or len(w1) < len(tw1):
        # the constant part of neurons not found sits in b3: compare the rest
        extra["param_error_note"] = (
            f"found {len(w1)}/{len(tw1)} and {len(w2)}/{len(tw2)} neurons; b3 absorbs the "
            "constant part of those missing"
        )
        return max(v for k, v in errs.items() if k != "b3")
    return max(errs.values())

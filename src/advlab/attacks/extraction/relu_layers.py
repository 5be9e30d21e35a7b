"""Layer recovery for cryptanalytic extraction: from found hyperplanes to a network.

The search for critical points and neuron rows lives in
:mod:`advlab.attacks.extraction.cryptanalytic`; this module turns the hidden hyperplanes it
finds into a network (signs and final layer by least squares, or the deeper layers fitted),
and measures the recovered parameters against a white-box truth. All float64.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from advlab.targets.base import Target

log = logging.getLogger(__name__)

F64 = torch.float64


@dataclass
class Hyperplane:
    """A hidden neuron's hyperplane ``w . x + b = 0`` (unit ``w``) and the lines that hit it."""

    w: torch.Tensor  # unit row (d,)
    b: float
    support: int = 1
    lines: set[int] = field(default_factory=set)
    point: torch.Tensor | None = None  # the critical point that found it
    out: torch.Tensor | None = None  # unit output factor of the Jacobian jump


class ReLUNet(nn.Module):
    """The stolen float64 network: ``A2 ReLU(W1 x + b1) + L x + b2`` (``L`` zero when signs
    are resolved), outputs as logits (a zero column for class 0 with probability targets)."""

    def __init__(
        self,
        w1: torch.Tensor,
        b1: torch.Tensor,
        a2: torch.Tensor,
        b2: torch.Tensor,
        lin: torch.Tensor | None = None,
        pad_class0: bool = False,
    ) -> None:
        super().__init__()
        self.w1 = nn.Parameter(w1.to(F64), requires_grad=False)
        self.b1 = nn.Parameter(b1.to(F64), requires_grad=False)
        self.a2 = nn.Parameter(a2.to(F64), requires_grad=False)
        self.b2 = nn.Parameter(b2.to(F64), requires_grad=False)
        lin_t = torch.zeros(a2.shape[0], w1.shape[1], dtype=F64) if lin is None else lin.to(F64)
        self.lin = nn.Parameter(lin_t, requires_grad=False)
        self.pad_class0 = pad_class0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.reshape(len(x), -1).to(F64)
        out = torch.relu(xf @ self.w1.T + self.b1) @ self.a2.T + xf @ self.lin.T + self.b2
        if self.pad_class0:
            out = torch.cat([torch.zeros(len(x), 1, dtype=F64, device=x.device), out], 1)
        return out


def solve_one_layer(
    w: torch.Tensor, b: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, rel: float
) -> tuple[
    torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, dict[str, Any]
]:
    """Signs and final layer of a one-hidden-layer ReLU network from its hidden hyperplanes.

    ``ReLU(-z) = ReLU(z) - z``, so ``A ReLU(Z) + L x + c`` fits the outputs ``ys`` at ``xs``
    exactly whatever the rows' orientation; a flipped row contributes ``-a_j w_j^T`` to ``L``
    and solving ``sum_j beta_j a_j w_j^T = -L`` for ``beta in {0, 1}^h`` gives the signs. A
    refit without ``L`` then gives the final layer. ``rel`` scales the tolerances with the
    target's precision (1 for float64). Returns ``w, b, a2, b2``, a linear skip term (``None``
    when the signs were resolved exactly) and diagnostics.
    """
    h, d = w.shape
    z = xs @ w.T + b
    design = torch.cat([torch.relu(z), xs, torch.ones(len(xs), 1, dtype=F64)], 1)
    sol = torch.linalg.lstsq(design, ys).solution  # (h + d + 1, outputs)
    a = sol[:h].T  # (outputs, h)
    lin = sol[h : h + d].T  # (outputs, d)
    mats = torch.stack([torch.outer(a[:, j], w[j]).reshape(-1) for j in range(h)], 1)
    beta = torch.linalg.lstsq(mats, -lin.reshape(-1, 1)).solution.flatten()
    flip = beta > 0.5
    resid_beta = float((beta - flip.to(F64)).abs().max()) if h else 0.0
    w = torch.where(flip[:, None], -w, w)
    b = torch.where(flip, -b, b)
    z = xs @ w.T + b
    design = torch.cat([torch.relu(z), torch.ones(len(xs), 1, dtype=F64)], 1)
    sol = torch.linalg.lstsq(design, ys).solution
    a2, b2 = sol[:h].T, sol[h]
    fit = torch.relu(z) @ a2.T + b2
    resid = float((fit - ys).abs().max() / (ys.abs().max() + 1e-300))
    lin_final: torch.Tensor | None = None
    signs_ok = resid_beta < 1e-3 * rel and resid < 1e-6 * rel
    if not signs_ok:
        log.warning(
            "cryptanalytic: signs not resolved exactly (beta residual %.3g, fit residual "
            "%.3g); keeping a linear skip term so the copy stays functionally exact",
            resid_beta,
            resid,
        )
        w = torch.where(flip[:, None], -w, w)
        b = torch.where(flip, -b, b)
        design = torch.cat([torch.relu(xs @ w.T + b), xs, torch.ones(len(xs), 1, dtype=F64)], 1)
        sol = torch.linalg.lstsq(design, ys).solution
        a2, lin_final, b2 = sol[:h].T, sol[h : h + d].T, sol[h + d]
    info = {
        "signs_resolved": signs_ok,
        "sign_residual": resid_beta,
        "fit_residual": resid,
        "hidden_found": h,
    }
    return w, b, a2, b2, lin_final, info


def first_layer_error(
    target: Target, w: torch.Tensor, b: torch.Tensor, extra: dict[str, Any]
) -> None:
    """Record in ``extra`` how far recovered first-layer rows are from the white-box truth
    (up to sign and scale); nothing when the target hides its model."""
    truth = true_layers(target)
    if truth is None or len(truth) < 2:
        return
    tw1, tb1 = truth[0]
    scale = tw1.norm(dim=1)
    tw, tb = tw1 / scale[:, None], tb1 / scale
    sim = (w @ tw.T).abs()
    match = sim.argmax(1)
    sgn = torch.sign((w * tw[match]).sum(1))
    err_w = float((w - sgn[:, None] * tw[match]).abs().max())
    err_b = float((b - sgn * tb[match]).abs().max())
    extra["true_first_layer_dim"] = int(tw1.shape[0])
    extra["first_layer_error_up_to_sign"] = max(err_w, err_b)
    extra["first_layer_matched"] = len(set(match.tolist()))


def param_error(
    target: Target,
    w: torch.Tensor,
    b: torch.Tensor,
    a2: torch.Tensor,
    b2: torch.Tensor,
    extra: dict[str, Any],
) -> tuple[float | None, float | None]:
    """Largest absolute and relative error of the recovered layers against the white-box
    truth (``None`` when the target hides its model or the neurons do not match)."""
    truth = true_layers(target)
    if truth is None or len(truth) != 2:
        return None, None
    (tw1, tb1), (tw2, tb2) = truth
    scale = tw1.norm(dim=1)
    alive = scale > 0
    tw, tb = tw1[alive] / scale[alive, None], tb1[alive] / scale[alive]
    ta = tw2[:, alive] * scale[alive][None]
    if target.output == "probs":
        ta = ta[1:] - ta[:1]
        tb2 = tb2[1:] - tb2[:1]
    extra["true_hidden_dim"] = int(tw1.shape[0])
    if len(w) != len(tw):
        extra["param_error_note"] = f"found {len(w)} of {len(tw)} neurons"
        return None, None
    sim = w @ tw.T
    match = sim.argmax(1)
    if len(set(match.tolist())) != len(w) or bool((sim.max(1).values < 0.999).any()):
        extra["param_error_note"] = "recovered neurons do not match the true ones one-to-one"
        return None, None
    errs = {
        "w1": (w - tw[match]).abs().max() / tw.abs().max(),
        "b1": (b - tb[match]).abs().max() / max(float(tb.abs().max()), 1e-12),
        "w2": (a2 - ta[:, match]).abs().max() / ta.abs().max(),
        "b2": (b2 - tb2).abs().max() / max(float(tb2.abs().max()), 1e-12),
    }
    absolute = max(
        float((w - tw[match]).abs().max()),
        float((b - tb[match]).abs().max()),
        float((a2 - ta[:, match]).abs().max()),
        float((b2 - tb2).abs().max()),
    )
    extra["param_error_by_layer"] = {k: float(v) for k, v in errs.items()}
    return absolute, max(float(v) for v in errs.values())


class _Rest(nn.Module):
    def __init__(self, w: torch.Tensor, b: torch.Tensor, hidden: int, out: int, pad: bool) -> None:
        super().__init__()
        self.register_buffer("w", w)
        self.register_buffer("b", b)
        h1 = len(w)
        # both orientations of each first-layer neuron are offered (its sign is unknown)
        self.l2 = nn.Linear(2 * h1, hidden).double()
        self.l3 = nn.Linear(hidden, out).double()
        self.pad = pad

    w: torch.Tensor
    b: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.reshape(len(x), -1).to(F64) @ self.w.T + self.b
        u = torch.cat([torch.relu(z), torch.relu(-z)], 1)
        out = self.l3(torch.relu(self.l2(u)))
        if self.pad:
            out = torch.cat([torch.zeros(len(x), 1, dtype=F64, device=x.device), out], 1)
        return out  # type: ignore[no-any-return]


def fit_rest(
    w: torch.Tensor,
    b: torch.Tensor,
    ys: torch.Tensor,
    xs: torch.Tensor,
    *,
    seed: int | None,
    pad_class0: bool,
) -> nn.Module:
    """Complete a copy whose first layer is known: fit the deeper layers by gradient descent
    on queried points (not exact; the report says so)."""
    torch.manual_seed(int(seed or 0))
    model = _Rest(w, b, max(32, 2 * len(w)), ys.shape[1], pad_class0)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    x_in = xs
    for _ in range(1500):
        pred = model(x_in)
        if pad_class0:
            pred = pred[:, 1:]
        loss = ((pred - ys) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


def true_layers(target: Target) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """The Linear layers of the white-box model behind ``target`` (experimenter's truth)."""
    t: Any = target
    while t is not None:
        for attr in ("model", "module"):
            m = getattr(t, attr, None)
            if isinstance(m, nn.Module):
                layers = [mod for mod in m.modules() if isinstance(mod, nn.Linear)]
                return [
                    (
                        lay.weight.detach().to(F64).cpu(),
                        (
                            lay.bias.detach().to(F64).cpu()
                            if lay.bias is not None
                            else torch.zeros(lay.out_features, dtype=F64)
                        ),
                    )
                    for lay in layers
                ]
        t = getattr(t, "inner", None)
    return None

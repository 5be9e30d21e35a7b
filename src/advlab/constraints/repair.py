"""Projection of candidates onto the feasible set, exact where one exists.

:func:`repair` maps candidates ``x`` (input units) for the clean points ``x0`` to points
that satisfy, in this order and each exactly:

1. mutability: immutable columns (and immutable one-hot groups) take their clean value,
   increase-only ones ``max(x, x0)``, decrease-only ones ``min(x, x0)``;
2. bounds: clipping to the features' bounds (the Euclidean projection on the box);
3. types: integers rounded to the nearest integer and binaries to the nearest of 0 / 1 (the
   nearest feasible value, kept inside the bounds and on the allowed side of ``x0``);
   one-hot groups set to the one-hot vector of their largest member (the nearest one-hot
   vector in any Lp norm);
4. definitions: features defined by an equality ``f == expr`` (see
   :meth:`ConstraintSet.definitions`) are recomputed from the others, in dependency order.

Relations that are not definitions (inequalities, ``or``) have no general projection: they
are left to the attack's penalty (CPGD, MoEvA2) and to the checker, which rejects a point
that still violates them. A definition whose value falls outside its feature's bounds is
likewise left for the checker.
"""

from __future__ import annotations

import torch

from advlab.constraints.schema import ConstraintSet


def repair(cs: ConstraintSet, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """Candidates ``x`` repaired for the clean points ``x0`` (same shape and dtype as ``x``)."""
    shape, dtype = x.shape, x.dtype
    xf = cs.flat(x).double().clone()
    x0f = cs.flat(x0).double().to(xf.device)
    for j, _, mut in cs.mutability():
        if mut == "immutable":
            xf[:, j] = x0f[:, j]
        elif mut == "increase":
            xf[:, j] = torch.maximum(xf[:, j], x0f[:, j])
        else:
            xf[:, j] = torch.minimum(xf[:, j], x0f[:, j])
    lo, hi = cs.input_bounds(xf)
    xf = torch.maximum(torch.minimum(xf, hi), lo)
    raw = cs.to_raw(xf)
    raw0 = cs.to_raw(x0f)
    changed = torch.zeros(raw.shape[1], dtype=torch.bool)
    muts = {j: m for j, _, m in cs.mutability()}
    members = {cs.index[m] for g in cs.groups for m in g.members}
    for j, f in enumerate(cs.features):
        if f.type == "real" or muts.get(j) == "immutable" or j in members:
            continue
        r = raw[:, j].round()
        if f.type == "binary":
            r = r.clamp(0, 1)
        # rounding may cross a bound or the clean value: take the nearest integer inside
        r = torch.where(r > f.upper, torch.floor(torch.tensor(f.upper, dtype=r.dtype)), r)
        r = torch.where(r < f.lower, torch.ceil(torch.tensor(f.lower, dtype=r.dtype)), r)
        if muts.get(j) == "increase":
            r = torch.maximum(r, raw0[:, j].round())
        elif muts.get(j) == "decrease":
            r = torch.minimum(r, raw0[:, j].round())
        raw[:, j] = r
        changed[j] = True
    for g in cs.groups:
        idx = [cs.index[m] for m in g.members]
        if g.mutability == "immutable":
            raw[:, idx] = raw0[:, idx]
        else:
            pick = raw[:, idx].argmax(1)
            raw[:, idx] = torch.nn.functional.one_hot(pick, len(idx)).to(raw.dtype)
        changed[idx] = True
    defs = cs.definitions()
    if defs:
        for j, rel in defs:
            raw[:, j] = rel.right.evaluate(cs.columns(raw))  # type: ignore[attr-defined]
            changed[j] = True
    out = xf.clone()
    if bool(changed.any()):
        back = cs.to_input(raw, torch.float64)
        out[:, changed] = back[:, changed]
    return out.to(dtype).reshape(shape)

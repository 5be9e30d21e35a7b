"""Lp-norm helpers shared by evasion attacks: norms, projections, steepest-ascent steps."""

from __future__ import annotations

import torch

from advlab.errors import ConfigError

NORMS = ("linf", "l2", "l1")


def check_norm(norm: str, allowed: tuple[str, ...] = NORMS) -> str:
    if norm not in allowed:
        raise ConfigError(f"unsupported norm {norm!r}; expected one of: {', '.join(allowed)}")
    return norm


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(len(x), -1)


def lp_norm(delta: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-sample norm of ``delta`` (shape ``(N, ...)``)."""
    f = _flat(delta)
    if norm == "linf":
        return f.abs().amax(1) if f.shape[1] else f.new_zeros(len(f))
    if norm == "l2":
        return f.norm(p=2, dim=1)
    if norm == "l1":
        return f.abs().sum(1)
    raise ConfigError(f"unsupported norm {norm!r}")


def _view(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def _project_l1(delta: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Euclidean projection onto the L1 ball (Duchi et al. 2008), per sample."""
    f = _flat(delta)
    eps_f = eps.expand(len(f)) if eps.dim() == 0 else eps
    abs_f = f.abs()
    inside = abs_f.sum(1) <= eps_f
    mu, _ = abs_f.sort(dim=1, descending=True)
    cums = mu.cumsum(1)
    ar = torch.arange(1, f.shape[1] + 1, device=f.device, dtype=f.dtype)
    cond = mu * ar > (cums - eps_f[:, None])
    rho = cond.float().cumsum(1).argmax(1)
    theta = (cums.gather(1, rho[:, None]).squeeze(1) - eps_f) / (rho + 1).to(f.dtype)
    proj = f.sign() * (abs_f - theta[:, None]).clamp_min(0)
    out = torch.where(inside[:, None], f, proj)
    return out.reshape(delta.shape)


def project(delta: torch.Tensor, eps: float | torch.Tensor, norm: str) -> torch.Tensor:
    """Project ``delta`` onto the ``norm`` ball of radius ``eps`` (scalar or per sample)."""
    e = torch.as_tensor(eps, dtype=delta.dtype, device=delta.device)
    if norm == "linf":
        ev = _view(e.expand(len(delta)), delta) if e.dim() else e
        return torch.maximum(torch.minimum(delta, ev), -ev)
    if norm == "l2":
        n = lp_norm(delta, "l2").clamp_min(1e-12)
        factor = torch.clamp(e / n, max=1.0)
        return delta * _view(factor, delta)
    if norm == "l1":
        return _project_l1(delta, e)
    raise ConfigError(f"unsupported norm {norm!r}")


def steepest(grad: torch.Tensor, norm: str) -> torch.Tensor:
    """Unit-norm steepest-ascent direction for ``grad`` under ``norm``."""
    if norm == "linf":
        return grad.sign()
    if norm == "l2":
        return grad / _view(lp_norm(grad, "l2").clamp_min(1e-12), grad)
    if norm == "l1":
        # coordinate with the largest |grad| per sample
        f = _flat(grad)
        idx = f.abs().argmax(1)
        out = torch.zeros_like(f)
        out.scatter_(1, idx[:, None], f.gather(1, idx[:, None]).sign())
        return out.reshape(grad.shape)
    raise ConfigError(f"unsupported norm {norm!r}")


def random_in_ball(
    shape: torch.Size, eps: float, norm: str, *, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """Uniform-ish random start inside the ball (uniform for L-inf, radial for L2/L1)."""
    gdev = generator.device
    if norm == "linf":
        r = torch.rand(shape, generator=generator, device=gdev) * 2 - 1
        return (r * eps).to(device)
    g = torch.randn(shape, generator=generator, device=gdev)
    if norm == "l1":
        # Laplace samples, normalised, are uniform in direction on the L1 sphere
        g = g.sign() * -torch.log(
            torch.rand(shape, generator=generator, device=gdev).clamp_min(1e-12)
        )
    d = g / _view(lp_norm(g, norm).clamp_min(1e-12), g)
    radius = torch.rand(shape[0], generator=generator, device=gdev) * eps
    return (d * _view(radius, d)).to(device)

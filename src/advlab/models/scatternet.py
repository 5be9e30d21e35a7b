"""A fixed ScatterNet feature map: hand-crafted features that cost no privacy.

Tramer & Boneh, "Differentially Private Learning Needs Better Features (or Much More Data)",
ICLR 2021 (arXiv:2011.11660), train DP-SGD on top of the wavelet scattering transform of
Mallat / Bruna & Mallat ("Invariant Scattering Convolution Networks", arXiv:1203.1513):
a cascade of fixed Morlet filters, complex modulus and Gaussian low-pass averaging. The
filters never see data, so the features are *data-independent* and computing them spends
no privacy budget; only the small model on top is trained with DP-SGD.

This is a self-contained second-order transform with ``J`` scales and ``L`` orientations
(the paper's ``J=2, L=8``: 81 channels per input channel, spatially subsampled by ``2**J``),
built like kymatio's ``Scattering2D`` (Morlet filter bank, reflect padding, products in the
Fourier domain, ``|x * psi_j|`` kept at resolution ``2**j``) but not bit-identical to it:
the filters are built on the padded grid without periodisation. kymatio 0.3.0 does not
import with SciPy 1.17 (``scipy.special.sph_harm`` is gone), hence this module.

:class:`GroupFeatureNorm` normalises each example's feature channels in groups, on that
example alone (Group Normalization, Wu & He 2018, arXiv:1803.08494, without learned affine
terms), the kind of data-independent normalisation Tramer & Boneh use for ScatterNet
features: it uses no statistic of the training set, so it costs no privacy either.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from advlab.errors import ConfigError


def _gabor(
    size: tuple[int, int], sigma: float, theta: float, xi: float, slant: float
) -> np.ndarray:
    """A 2-D Gabor filter centred on the grid (complex, spatial domain)."""
    h, w = size
    yy, xx = np.mgrid[-(h // 2) : h - h // 2, -(w // 2) : w - w // 2].astype(np.float64)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    curv = rot @ np.diag([1.0, slant**2]) @ rot.T / (2 * sigma**2)
    quad = curv[0, 0] * xx**2 + (curv[0, 1] + curv[1, 0]) * xx * yy + curv[1, 1] * yy**2
    phase = xi * (xx * math.cos(theta) + yy * math.sin(theta))
    g = np.exp(-quad + 1j * phase)
    return g / (2 * math.pi * sigma**2 / slant)


def _morlet(
    size: tuple[int, int], sigma: float, theta: float, xi: float, slant: float
) -> np.ndarray:
    """A Morlet wavelet: the Gabor filter minus its Gaussian envelope, scaled to zero mean."""
    wave = _gabor(size, sigma, theta, xi, slant)
    env = _gabor(size, sigma, theta, 0.0, slant)
    return wave - (wave.sum() / env.sum()) * env


def _to_fourier(spatial: np.ndarray) -> np.ndarray:
    """Move the centred filter's origin to (0, 0) and take its 2-D FFT."""
    h, w = spatial.shape[-2:]
    return np.fft.fft2(np.roll(spatial, (-(h // 2), -(w // 2)), axis=(-2, -1)))


def _crop_spectrum(f_hat: np.ndarray, k: int) -> np.ndarray:
    """A filter's spectrum on a grid ``k`` times coarser: keep its low-frequency block."""
    h, w = f_hat.shape[-2:]
    rows = np.r_[0 : h // (2 * k), h - h // (2 * k) : h]
    cols = np.r_[0 : w // (2 * k), w - w // (2 * k) : w]
    return f_hat[..., rows[:, None], cols[None, :]]


def _subsample(u_hat: torch.Tensor, k: int) -> torch.Tensor:
    """The spectrum of the signal subsampled by ``k`` in space: the mean of its aliases."""
    if k == 1:
        return u_hat
    h, w = (n // k for n in u_hat.shape[-2:])
    out = u_hat[..., :h, :w].clone()
    for i in range(k):
        for j in range(k):
            if i or j:
                out += u_hat[..., i * h : (i + 1) * h, j * w : (j + 1) * w]
    return out / (k * k)


class ScatterNet(nn.Module):
    """Second-order 2-D scattering transform with fixed Morlet filters (no parameters).

    Input ``(B, C, H, W)``; output ``(B, C * K, ceil(H / 2**J), ceil(W / 2**J))`` with
    ``K = 1 + J*L + L*L*J*(J-1)/2`` channels per input channel (81 for ``J=2, L=8``): the
    low-passed image, the ``J*L`` first-order coefficients ``|x * psi_{j,l}| * phi`` and the
    second-order ones ``||x * psi_{j1,l1}| * psi_{j2,l2}| * phi`` for ``j2 > j1``.
    ``sigma = 0.8 * 2**j``, ``xi = 3 pi / 4 / 2**j``, slant ``4 / L`` as in kymatio; as there,
    ``|x * psi_j|`` is kept at resolution ``2**j`` and filters on coarser grids are their
    spectra's low-frequency blocks.
    """

    def __init__(self, shape: tuple[int, int], J: int = 2, L: int = 8) -> None:  # noqa: N803
        super().__init__()
        if J < 1 or L < 1:
            raise ConfigError(f"ScatterNet needs J >= 1 and L >= 1, got J={J}, L={L}")
        h, w = (int(s) for s in shape)
        step = 2**J
        if min(h, w) <= step:
            raise ConfigError(f"ScatterNet(J={J}) needs images larger than {step}, got {shape}")
        self.shape, self.J, self.L = (h, w), J, L
        # reflect padding of 2**J on each side, plus what makes the grid a multiple of 2**J
        self.padding = (step, step + (-w) % step, step, step + (-h) % step)
        grid = (h + self.padding[2] + self.padding[3], w + self.padding[0] + self.padding[1])
        psi = np.stack(
            [
                _to_fourier(
                    _morlet(
                        grid, 0.8 * 2**j, (L - 1 - t) * math.pi / L, 0.75 * math.pi / 2**j, 4 / L
                    )
                )
                for j in range(J)
                for t in range(L)
            ]
        )
        phi = _to_fourier(_gabor(grid, 0.8 * 2**J, 0.0, 0.0, 1.0))
        for r in range(J):  # filters on the grid 2**r times coarser
            psi_r = torch.as_tensor(_crop_spectrum(psi, 2**r), dtype=torch.complex64)
            phi_r = torch.as_tensor(_crop_spectrum(phi, 2**r), dtype=torch.complex64)
            self.register_buffer(f"psi_{r}", psi_r, persistent=False)
            self.register_buffer(f"phi_{r}", phi_r, persistent=False)

    @property
    def channels_per_input(self) -> int:
        """``K``: output channels per input channel."""
        return 1 + self.J * self.L + self.L * self.L * self.J * (self.J - 1) // 2

    def output_shape(self, in_channels: int) -> tuple[int, int, int]:
        """``(C * K, H', W')`` for ``in_channels`` input channels."""
        step = 2**self.J
        h, w = self.shape
        return in_channels * self.channels_per_input, -(-h // step), -(-w // step)

    def _filters(self, kind: str, r: int) -> torch.Tensor:
        out = getattr(self, f"{kind}_{r}")
        assert isinstance(out, torch.Tensor)
        return out

    def _lowpass(self, u_hat: torch.Tensor, r: int) -> torch.Tensor:
        """``u * phi`` subsampled to resolution ``2**J``, cropped to the image, from the
        spectrum of ``u`` at resolution ``2**r``."""
        out = torch.fft.ifft2(_subsample(u_hat * self._filters("phi", r), 2 ** (self.J - r))).real
        _, h_out, w_out = self.output_shape(1)
        return out[..., 1 : 1 + h_out, 1 : 1 + w_out]

    def _wavelet(self, u_hat: torch.Tensor, r: int, j: int) -> torch.Tensor:
        """Spectra of ``|u * psi_{j,l}|`` for all ``l``, at resolution ``2**j``, from the
        spectrum of ``u`` (any leading shape) at resolution ``2**r``."""
        L = self.L  # noqa: N806
        filt = self._filters("psi", r)[j * L : (j + 1) * L]
        u = torch.fft.ifft2(_subsample(u_hat.unsqueeze(-3) * filt, 2 ** (j - r))).abs()
        return torch.fft.fft2(u)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scattering coefficients of a batch ``(B, C, H, W)``."""
        if tuple(x.shape[-2:]) != self.shape:
            raise ConfigError(
                f"ScatterNet built for {self.shape}, got images {tuple(x.shape[-2:])}"
            )
        b, c = x.shape[:2]
        x_hat = torch.fft.fft2(nn.functional.pad(x.float(), self.padding, mode="reflect"))
        parts = [self._lowpass(x_hat, 0).unsqueeze(2)]
        orders2 = []
        for j1 in range(self.J):
            u1_hat = self._wavelet(x_hat, 0, j1)  # (B, C, L, H/2**j1, W/2**j1)
            parts.append(self._lowpass(u1_hat, j1))
            for j2 in range(j1 + 1, self.J):
                u2_hat = self._wavelet(u1_hat, j1, j2)  # (B, C, L, L, ...)
                orders2.append(self._lowpass(u2_hat, j2).flatten(2, 3))
        out = torch.cat(parts + orders2, dim=2)  # (B, C, K, H', W')
        return out.reshape(b, c * self.channels_per_input, *out.shape[-2:])


class GroupFeatureNorm(nn.Module):
    """Per-example group normalisation of ``(B, C, ...)`` features, without learned terms."""

    def __init__(self, groups: int, eps: float = 1e-5) -> None:
        super().__init__()
        if groups < 1:
            raise ConfigError(f"groups must be >= 1, got {groups}")
        self.groups, self.eps = groups, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise each example's channel groups to zero mean and unit variance."""
        if x.shape[1] % self.groups:
            raise ConfigError(f"{x.shape[1]} channels do not split into {self.groups} groups")
        return nn.functional.group_norm(x, self.groups, eps=self.eps)


@torch.no_grad()
def scatter_features(
    x: np.ndarray | torch.Tensor,
    *,
    J: int = 2,  # noqa: N803
    L: int = 8,  # noqa: N803
    groups: int | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Normalised, flattened ScatterNet features of images ``(N, C, H, W)`` as float32.

    ``groups``: channel groups of :class:`GroupFeatureNorm` (default: :func:`default_groups`).
    """
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if xt.ndim != 4:
        raise ConfigError(
            f"scatter_features needs images (N, C, H, W), got shape {tuple(xt.shape)}"
        )
    net = ScatterNet(tuple(xt.shape[-2:]), J=J, L=L)  # type: ignore[arg-type]
    norm = GroupFeatureNorm(groups or default_groups(net, xt.shape[1]))
    out = [norm(net(xt[i : i + batch_size])).flatten(1) for i in range(0, len(xt), batch_size)]
    return torch.cat(out).numpy()


def default_groups(net: ScatterNet, in_channels: int) -> int:
    """Channel groups for the normalisation: the largest divisor of the channel count
    that is at most 27 (for 81 channels: 27 groups of 3 channels)."""
    channels = in_channels * net.channels_per_input
    return max(g for g in range(1, min(27, channels) + 1) if channels % g == 0)

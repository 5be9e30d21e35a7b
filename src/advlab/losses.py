"""Per-sample attack objectives on logits, written to be *ascended*.

``ce``: cross-entropy; ``margin``/``cw``: the Carlini-Wagner margin
``max_{j != y} z_j - z_y``; ``dlr``: the difference-of-logits ratio of Croce & Hein (2020),
``-(z_y - max_{j != y} z_j) / (z_pi1 - z_pi3)``. Targeted variants (``*-targeted``) take the
*target* class as ``y`` and ascend towards it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from advlab.errors import UnknownNameError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _true_and_other(z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    true = z.gather(1, y[:, None]).squeeze(1)
    other = z.masked_fill(F.one_hot(y, z.shape[1]).bool(), float("-inf")).amax(1)
    return true, other


def ce(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(z, y, reduction="none")


def ce_targeted(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -F.cross_entropy(z, y, reduction="none")


def margin(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    true, other = _true_and_other(z, y)
    return other - true


def margin_targeted(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    true, other = _true_and_other(z, y)
    return true - other


def dlr(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    zs, _ = z.sort(dim=1)
    true, other = _true_and_other(z, y)
    return -(true - other) / (zs[:, -1] - zs[:, -3] + 1e-12)


def dlr_targeted(
    z: torch.Tensor, y: torch.Tensor, y_orig: torch.Tensor | None = None
) -> torch.Tensor:
    """Targeted DLR: ``-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)`` with ``y`` the target.

    Without the original label we use the largest non-target logit in place of ``z_y``.
    """
    zs, _ = z.sort(dim=1)
    t = z.gather(1, y[:, None]).squeeze(1)
    if y_orig is None:
        _, other = _true_and_other(z, y)
    else:
        other = z.gather(1, y_orig[:, None]).squeeze(1)
    denom = zs[:, -1] - 0.5 * (zs[:, -3] + zs[:, -4]) + 1e-12
    return -(other - t) / denom


LOSSES: dict[str, LossFn] = {
    "ce": ce,
    "ce-targeted": ce_targeted,
    "margin": margin,
    "cw": margin,
    "margin-targeted": margin_targeted,
    "cw-targeted": margin_targeted,
    "dlr": dlr,
    "dlr-targeted": dlr_targeted,
}


def get_loss(name: str, *, targeted: bool = False) -> LossFn:
    key = f"{name}-targeted" if targeted and not name.endswith("-targeted") else name
    try:
        return LOSSES[key]
    except KeyError:
        valid = ", ".join(sorted(k for k in LOSSES if not k.endswith("-targeted")))
        raise UnknownNameError(f"unknown loss {name!r}; expected one of: {valid}") from None

"""Neural Cleanse: trigger reverse-engineering with a MAD outlier test.

Wang, Yao, Shan, Li, Viswanath, Zheng & Zhao, "Neural Cleanse: Identifying and Mitigating
Backdoor Attacks in Neural Networks", IEEE S&P 2019. For every label ``c``, find the smallest
mask ``m`` and pattern ``p`` with ``(1 - m) * x + m * p`` classified as ``c`` for clean ``x``:
minimise ``CE + lambda * |m|_1`` with Adam on ``tanh``-parametrised ``m, p``, adapting
``lambda`` up while the attack success is >= ``asr_threshold`` and down otherwise, and keeping
the smallest mask that succeeds. A backdoored label needs a much smaller mask: its anomaly
index ``|L1_c - median| / (1.4826 * MAD)`` exceeds 2 (and its L1 is below the median).

Neural Cleanse is a model-level detector: :meth:`NeuralCleanse.analyse` says which labels are
backdoored, with the paper's rule (anomaly index > 2) whatever ``calibration`` says. As a
training-data detector (``detect``) it then scores the training points of each flagged label
``t`` by how much the reversed trigger's mask explains them: ``p_t(x) - p_t(x')`` where ``x'``
replaces the mask's region of ``x`` by the mean reversal input (the trigger, if the mask covers
it, is erased). Points of unflagged labels score 0 and are never flagged. Threshold rules
(``calibration``, see :mod:`advlab.defenses.poison.calibration`): ``default`` flags points
predicted ``t`` whose prediction leaves ``t`` once erased; ``clean`` the conformal ``(1 - fpr)``
quantile of the clean held-out points of ``t``; ``robust`` modified z-scores above 3.5 among
the points of ``t``. The reversal uses the clean held-out inputs when given, else the training
inputs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from advlab.defenses.poison.base import PoisonDetector
from advlab.defenses.poison.calibration import PoisonStatistic
from advlab.errors import ConfigError, InputError
from advlab.registry import register_defense
from advlab.results import Result
from advlab.vocab import renamed_params

log = logging.getLogger(__name__)


@dataclass
class NeuralCleanseResult(Result):
    """Per label: the reversed trigger's mask L1 norm and anomaly index; ``flagged`` labels."""

    type_name: ClassVar[str] = "neural_cleanse"

    norms: list[float] = field(default_factory=list)
    anomaly_index: list[float] = field(default_factory=list)
    flagged: list[int] = field(default_factory=list)
    masks: Any = None
    patterns: Any = None

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(
            flagged=self.flagged,
            norms=[round(v, 3) for v in self.norms],
            anomaly_index=[round(v, 3) for v in self.anomaly_index],
        )
        return s


def mad_anomaly_index(norms: np.ndarray) -> np.ndarray:
    """``|x - median| / (1.4826 * MAD)`` (the consistency constant of a normal)."""
    med = np.median(norms)
    mad = 1.4826 * np.median(np.abs(norms - med))
    return np.abs(norms - med) / max(mad, 1e-12)


@register_defense
class NeuralCleanse(PoisonDetector):
    """Reverse-engineer a minimal trigger per label and flag outliers (anomaly index > 2).

    Args:
        steps: optimisation steps per label.
        step_size: Adam step size of the trigger optimisation (deprecated alias ``lr``).
        init_cost / cost_factor / patience: the adaptive L1 weight ``lambda``.
        asr_threshold: attack success a reversed trigger must reach.
        threshold: anomaly-index threshold (2 in the paper).
        batch_size: clean inputs per step.
        label_batch: labels whose triggers are reversed together, in one batched forward
            pass of ``label_batch * batch_size`` inputs per step (memory grows with it).
            ``None``: 1 on the CPU, where larger passes measured slower per label (a 32x32
            SmallCNN: 1.5x slower at 8 labels, 2x at 43), and 8 on an accelerator.
        seed: seeds the batches and the initialisation.
        calibration: threshold rule of ``detect`` for the points of flagged labels:
            ``default``, ``clean`` (needs ``detect(..., clean=(x, y))``) or ``robust``.
        fpr: target clean-removal rate of the ``clean`` rule (0.05: the most clean data a
            useful filter may remove in the benchmark's criterion).
    """

    name = "neural_cleanse"
    role = "detector"
    threat = "poisoning"
    paper = "Wang et al. 2019, IEEE S&P, doi:10.1109/SP.2019.00031"
    summary = "Reverse-engineer the smallest trigger per label; MAD anomaly index > 2 flags it."
    link = "doi:10.1109/SP.2019.00031"
    flags = frozenset({"data_level", "randomized"})

    fast_params = {"steps": 100, "batch_size": 64}

    @renamed_params(lr="step_size")
    def __init__(
        self,
        *,
        steps: int = 300,
        step_size: float = 0.1,
        init_cost: float = 1e-3,
        cost_factor: float = 1.5,
        patience: int = 10,
        asr_threshold: float = 0.99,
        threshold: float = 2.0,
        batch_size: int = 128,
        label_batch: int | None = None,
        seed: int = 0,
        calibration: str = "default",
        fpr: float = 0.05,
    ) -> None:
        self.steps = steps
        self.step_size = step_size
        self.init_cost = init_cost
        self.cost_factor = cost_factor
        self.patience = patience
        self.asr_threshold = asr_threshold
        self.threshold = threshold
        self.batch_size = batch_size
        self.label_batch = label_batch
        self.seed = seed
        self.calibration = calibration
        self.fpr = fpr

    def _reverse(
        self,
        model: nn.Module,
        x: torch.Tensor,
        labels: list[int],
        lo: float,
        hi: float,
        gen: torch.Generator,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Reverse the triggers of ``labels`` together: one batched forward pass per step over
        every label's masked batch (the labels share the batch of clean inputs; each has its
        own mask, pattern, ``lambda`` schedule and best mask, and Adam acts elementwise, so the
        labels do not interact). Returns the best masks' L1 norms, the masks and patterns."""
        n_lab = len(labels)
        shape = tuple(x.shape[1:])
        mask_shape = (1, *shape[1:]) if len(shape) == 3 else shape
        dev = x.device
        m_p = (torch.randn((n_lab, *mask_shape), generator=gen) * 0.1).to(dev).requires_grad_()
        p_p = (torch.randn((n_lab, *shape), generator=gen) * 0.1).to(dev).requires_grad_()
        opt = torch.optim.Adam([m_p, p_p], lr=self.step_size, betas=(0.5, 0.9))
        cost = torch.full((n_lab,), float(self.init_cost), device=dev)
        best_norm = torch.full((n_lab,), float("inf"), device=dev)
        best_m = torch.zeros((n_lab, *mask_shape), device=dev)
        best_p = torch.zeros((n_lab, *shape), device=dev)
        found = torch.zeros(n_lab, dtype=torch.bool, device=dev)
        hits = torch.zeros(n_lab, device=dev)
        targets = torch.as_tensor(labels, dtype=torch.long, device=dev)
        b = min(self.batch_size, len(x))
        yt = targets.repeat_interleave(b)
        for step in range(int(self.steps)):
            idx = torch.randint(0, len(x), (b,), generator=gen).to(dev)
            mask = (torch.tanh(m_p) + 1) / 2
            pat = lo + (hi - lo) * (torch.tanh(p_p) + 1) / 2
            xb = (1 - mask[:, None]) * x[idx][None] + mask[:, None] * pat[:, None]
            logits = model(xb.reshape(n_lab * b, *shape))
            ce = F.cross_entropy(logits, yt, reduction="none").view(n_lab, b).mean(1)
            l1 = mask.flatten(1).sum(1)
            loss = (ce + cost * l1).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                asr = (logits.argmax(1) == yt).view(n_lab, b).float().mean(1)
                ok = asr >= self.asr_threshold
                better = ok & (l1 < best_norm)
                best_norm = torch.where(better, l1, best_norm)
                best_m[better] = mask[better]
                best_p[better] = pat[better]
                found |= ok
                hits += ok.float() * 2 - 1
                if (step + 1) % int(self.patience) == 0:
                    up = cost * self.cost_factor
                    cost = torch.where(hits > 0, up, cost / self.cost_factor)
                    hits.zero_()
        with torch.no_grad():  # a label that never succeeded reports its last mask
            mask = (torch.tanh(m_p) + 1) / 2
            pat = lo + (hi - lo) * (torch.tanh(p_p) + 1) / 2
            miss = ~found
            best_m[miss] = mask[miss]
            best_p[miss] = pat[miss]
            best_norm = torch.where(found, best_norm, mask.flatten(1).sum(1))
        return best_norm.cpu().numpy(), best_m.cpu().numpy(), best_p.cpu().numpy()

    def analyse(
        self,
        model: Any,
        x_clean: Any,
        *,
        bounds: tuple[float, float] = (0.0, 1.0),
        labels: list[int] | None = None,
    ) -> NeuralCleanseResult:
        """Reverse a trigger for every label (``labels``: default all) using clean inputs."""
        m = getattr(model, "model", model)
        if not isinstance(m, nn.Module):
            raise InputError(
                f"neural_cleanse needs a torch model or TorchClassifier, got {type(model).__name__}"
            )
        m = m.eval()
        for p in m.parameters():
            p.requires_grad_(False)
        dev = next(m.parameters()).device
        x = torch.as_tensor(np.asarray(x_clean, dtype=np.float32), device=dev)
        if len(x) == 0:
            raise InputError("neural_cleanse needs clean inputs")
        with torch.no_grad():
            num_classes = int(m(x[:1]).shape[1])
        labs = list(range(num_classes)) if labels is None else [int(c) for c in labels]
        gen = torch.Generator().manual_seed(int(self.seed))
        norms, masks, pats = [], [], []
        auto = 1 if dev.type == "cpu" else 8
        chunk = auto if self.label_batch is None else int(self.label_batch)
        if chunk < 1:
            raise ConfigError(f"label_batch must be >= 1, got {self.label_batch!r}")
        try:
            for i in range(0, len(labs), chunk):
                part = labs[i : i + chunk]
                n, mk, pt = self._reverse(m, x, part, float(bounds[0]), float(bounds[1]), gen)
                norms.append(n)
                masks.append(mk)
                pats.append(pt)
                log.debug("neural_cleanse: reversed labels %s of %d", part, len(labs))
        finally:
            for p in m.parameters():
                p.requires_grad_(True)
        arr = np.concatenate(norms).astype(np.float64)
        ai = mad_anomaly_index(arr)
        med = float(np.median(arr))
        flagged = [c for c, a, n in zip(labs, ai, arr) if a > self.threshold and n < med]
        return NeuralCleanseResult(
            attack=self.name,
            params=self.get_params(),
            norms=arr.tolist(),
            anomaly_index=ai.tolist(),
            flagged=flagged,
            masks=np.concatenate(masks),
            patterns=np.concatenate(pats),
        )

    def statistic(self, x: Any, y: Any, *, model: Any = None, clean: Any = None) -> PoisonStatistic:
        """Reverse the triggers (on the clean inputs when given), then score the training
        points of flagged labels by how much erasing the mask's region lowers ``p_label``."""
        xa, ya, xc, yc = self._inputs(x, y, model, clean)
        pool = xa if xc is None else xc
        lo = float(min(xa.min(), pool.min()))
        hi = float(max(xa.max(), pool.max()))
        res = self.analyse(model, pool, bounds=(lo, hi))
        m = getattr(model, "model", model).eval()
        fill = pool.mean(0, keepdims=True)
        scores = np.zeros(len(xa))
        cscores = None if yc is None else np.zeros(len(yc))
        default: list[np.ndarray] = []
        for t in res.flagged:
            mask = res.masks[t]
            idx = np.flatnonzero(ya == t)
            drop, stays, leaves = _erase_drop(m, xa[idx], mask, fill, t)
            scores[idx] = drop
            default.append(idx[stays & leaves])
            if xc is not None and yc is not None and cscores is not None:
                cidx = np.flatnonzero(yc == t)
                cscores[cidx] = _erase_drop(m, xc[cidx], mask, fill, t)[0]
        flags = np.concatenate(default) if default else np.zeros(0, dtype=np.int64)
        return PoisonStatistic(
            ya,
            scores,
            flags,
            cscores,
            yc,
            eligible=np.isin(ya, res.flagged),
            info={
                "flagged_labels": [int(c) for c in res.flagged],
                "anomaly_index": [float(v) for v in res.anomaly_index],
                "norms": [float(v) for v in res.norms],
            },
        )


@torch.no_grad()
def _erase_drop(
    model: nn.Module, x: np.ndarray, mask: np.ndarray, fill: np.ndarray, label: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``p_label(x) - p_label(x')`` with ``x' = (1 - mask) x + mask fill``; whether ``x`` is
    predicted ``label``; whether ``x'`` is not."""
    if len(x) == 0:
        empty = np.zeros(0, dtype=bool)
        return np.zeros(0), empty, empty
    dev = next(model.parameters()).device
    erased = (1 - mask) * x + mask * fill
    p = torch.softmax(model(torch.as_tensor(x, dtype=torch.float32, device=dev)), 1).cpu()
    q = torch.softmax(model(torch.as_tensor(erased, dtype=torch.float32, device=dev)), 1).cpu()
    drop = (p[:, label] - q[:, label]).numpy().astype(np.float64)
    return drop, (p.argmax(1) == label).numpy(), (q.argmax(1) != label).numpy()

"""The victim pipeline: retrain the victim on the poisoned set over several seeds.

Small-scale poisoning results swing strongly with the training seed, so a poisoned dataset is
judged by retraining victims with ``seeds`` independent seeds (from
:func:`advlab.parallel.task_seeds`), each next to a victim trained on the clean set with the
same seed, through an executor (``serial`` | ``processes`` | ``ray``), or all stacked in one
vectorised run (``vectorized``, :mod:`advlab.attacks.poisoning.victim_vmap`). Reported:

- attack success: targeted attacks, the fraction of target inputs the victim classifies as the
  attacker's class; backdoors, the attack success rate (ASR) on triggered test inputs whose
  true class is not the target class (all-to-one) or that should move to ``(y + 1) % C``
  (all-to-all); untargeted attacks (label flips), the drop in test accuracy;
- the clean-accuracy drop (clean victim minus poisoned victim, same seed), and
- the spread (standard deviation) of both across seeds.

Victim modes: ``scratch`` (train from a fresh initialisation, the default), ``finetune``
(start from given weights and train every layer), ``linear`` (transfer learning: freeze the
given feature extractor and retrain the final layer, the Poison Frogs setting).

Example:
    >>> res = evaluate_poisoning(poisoned, ds.x_train, ds.y_train, ds.x_test, ds.y_test,
    ...                          spec=default_spec(ds.input_shape, 10), seeds=5)
    >>> res.summary()["success_mean"], res.summary()["clean_drop_mean"]
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from advlab.attacks.poisoning.augment import augment_batch
from advlab.attacks.poisoning.base import PoisonedDataset, apply_trigger
from advlab.errors import ConfigError, InputError
from advlab.models.arch import build
from advlab.models.train import TrainConfig
from advlab.parallel import Executor, get_executor, task_seeds
from advlab.results import Result

log = logging.getLogger(__name__)

MODES = ("scratch", "finetune", "linear")


def last_linear(model: nn.Module) -> nn.Linear:
    """The model's final ``nn.Linear`` layer (the classifier head)."""
    last = None
    for m in model.modules():
        if isinstance(m, nn.Linear):
            last = m
    if last is None:
        raise ConfigError(f"{type(model).__name__} has no nn.Linear layer")
    return last


def state_to_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    """Weights as plain numpy arrays (picklable task payloads, never pickled models)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def train_victim(
    spec: dict[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    *,
    mode: str = "scratch",
    init_state: dict[str, np.ndarray] | None = None,
    augment: str | None = None,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Train a victim like :func:`advlab.models.train_model` (Adam, shuffled mini-batches),
    with optional augmentation, fine-tuning from ``init_state`` or a frozen feature extractor.
    """
    if mode not in MODES:
        raise ConfigError(f"victim mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode != "scratch" and init_state is None:
        raise ConfigError(f"victim mode {mode!r} needs pretrained weights (init_state)")
    dev = torch.device(device)
    torch.manual_seed(config.seed)
    model = build(spec)
    if init_state is not None and mode != "scratch":
        model.load_state_dict({k: torch.as_tensor(v) for k, v in init_state.items()})
    model.to(dev).train()
    params: list[nn.Parameter] = list(model.parameters())
    if mode == "linear":
        head = last_linear(model)
        head.reset_parameters()
        for p in model.parameters():
            p.requires_grad_(False)
        for p in head.parameters():
            p.requires_grad_(True)
        params = list(head.parameters())
    opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    xt = torch.as_tensor(x, dtype=torch.float32, device=dev)
    yt = torch.as_tensor(y, dtype=torch.long, device=dev)
    gen = torch.Generator().manual_seed(config.seed)
    for _ in range(config.epochs):
        perm = torch.randperm(len(xt), generator=gen).to(dev)
        for s in range(0, len(xt), config.batch_size):
            idx = perm[s : s + config.batch_size]
            xb = augment_batch(xt[idx], augment, generator=gen)
            loss = F.cross_entropy(model(xb), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    dev = next(model.parameters()).device
    out = []
    for s in range(0, len(x), batch_size):
        xb = torch.as_tensor(x[s : s + batch_size], dtype=torch.float32, device=dev)
        out.append(model(xb).argmax(1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def attack_success(
    model: nn.Module, evaluation: dict[str, Any], x_test: np.ndarray, y_test: np.ndarray
) -> float:
    """Success of the attack described by ``evaluation`` against a trained ``model``."""
    kind = evaluation["kind"]
    if kind == "targeted":
        pred = predict(model, np.asarray(evaluation["x_target"], dtype=np.float32))
        return float((pred == int(evaluation["target_class"])).mean())
    if kind == "backdoor":
        trig = evaluation["trigger"]
        keep: np.ndarray
        if evaluation.get("mode") == "all_to_all":
            num_classes = int(evaluation["num_classes"])
            keep = np.ones(len(y_test), dtype=bool)
            want = (y_test + 1) % num_classes
        else:
            tc = int(evaluation["target_class"])
            keep = np.asarray(y_test != tc)
            want = np.full(len(y_test), tc)
        if evaluation.get("source_class") is not None:
            keep &= y_test == int(evaluation["source_class"])
        if not keep.any():
            return float("nan")
        pred = predict(model, apply_trigger(x_test[keep], trig))
        return float((pred == want[keep]).mean())
    if kind == "untargeted":
        return float((predict(model, x_test) != y_test).mean())
    raise ConfigError(f"unknown evaluation kind {kind!r}")


def victim_task(task: dict[str, Any]) -> dict[str, Any]:
    """One victim: train on ``task['x'], task['y']`` with ``task['seed']`` and measure it.

    A picklable top-level function (for the process and Ray executors).
    """
    torch.set_num_threads(int(task.get("threads", 1)))
    cfg = TrainConfig(**{**task["train"], "seed": int(task["seed"])})
    t0 = time.perf_counter()
    model = train_victim(
        task["spec"],
        task["x"],
        task["y"],
        cfg,
        mode=task["mode"],
        init_state=task.get("init_state"),
        augment=task.get("augment"),
        device=task.get("device", "cpu"),
    )
    pred = predict(model, task["x_test"])
    return {
        "accuracy": float((pred == task["y_test"]).mean()),
        "success": attack_success(model, task["evaluation"], task["x_test"], task["y_test"]),
        "seconds": time.perf_counter() - t0,
    }


@dataclass
class PoisoningResult(Result):
    """Victims retrained on a poisoned set (and on the clean set) over several seeds.

    Per-seed lists: ``success`` (poisoned victims), ``baseline_success`` (clean victims, the
    same measure: what the attack gets for free), ``clean_accuracy`` (poisoned victims' test
    accuracy) and ``baseline_accuracy`` (clean victims').
    """

    type_name: ClassVar[str] = "poisoning"

    evaluation: str = ""
    victim: dict[str, Any] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)
    success: list[float] = field(default_factory=list)
    baseline_success: list[float] = field(default_factory=list)
    clean_accuracy: list[float] = field(default_factory=list)
    baseline_accuracy: list[float] = field(default_factory=list)
    n_poison: int = 0
    budget: float = 0.0
    eps: float | None = None

    @staticmethod
    def _mean(v: list[float]) -> float:
        a = np.asarray(v, dtype=float)
        a = a[np.isfinite(a)]
        return float(a.mean()) if len(a) else float("nan")

    @staticmethod
    def _std(v: list[float]) -> float:
        a = np.asarray(v, dtype=float)
        a = a[np.isfinite(a)]
        return float(a.std(ddof=1)) if len(a) > 1 else 0.0

    @property
    def success_mean(self) -> float:
        return self._mean(self.success)

    @property
    def success_std(self) -> float:
        return self._std(self.success)

    @property
    def clean_drop(self) -> list[float]:
        """Per seed: clean victim's accuracy minus the poisoned victim's (fraction)."""
        return [b - a for a, b in zip(self.clean_accuracy, self.baseline_accuracy)]

    @property
    def clean_drop_mean(self) -> float:
        return self._mean(self.clean_drop)

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(
            evaluation=self.evaluation,
            victims=len(self.seeds),
            n_poison=self.n_poison,
            budget=self.budget,
            eps=self.eps,
            success_mean=round(self.success_mean, 6),
            success_std=round(self.success_std, 6),
            baseline_success_mean=round(self._mean(self.baseline_success), 6),
            clean_accuracy_mean=round(self._mean(self.clean_accuracy), 6),
            baseline_accuracy_mean=round(self._mean(self.baseline_accuracy), 6),
            clean_drop_mean=round(self.clean_drop_mean, 6),
            clean_drop_std=round(self._std(self.clean_drop), 6),
        )
        return s


def evaluation_for(poisoned: PoisonedDataset, num_classes: int) -> dict[str, Any]:
    """How to measure success for this poisoned set (from its mode and trigger)."""
    if poisoned.trigger is not None:
        return {
            "kind": "backdoor",
            "trigger": poisoned.trigger,
            "target_class": poisoned.target_class,
            "mode": poisoned.mode or "all_to_one",
            "num_classes": num_classes,
            "source_class": poisoned.info.get("source_class"),
        }
    if poisoned.x_target is not None:
        if poisoned.target_class is None:
            raise InputError("a targeted poisoned set needs target_class")
        return {
            "kind": "targeted",
            "x_target": np.asarray(poisoned.x_target, dtype=np.float32),
            "target_class": int(poisoned.target_class),
        }
    return {"kind": "untargeted"}


def evaluate_poisoning(
    poisoned: PoisonedDataset,
    x_clean: Any,
    y_clean: Any,
    x_test: Any,
    y_test: Any,
    *,
    spec: dict[str, Any],
    train: TrainConfig | None = None,
    seeds: int = 5,
    seed: int = 0,
    mode: str = "scratch",
    init_state: dict[str, np.ndarray] | None = None,
    augment: str | None = None,
    executor: str | Executor = "serial",
    executor_kwargs: dict[str, Any] | None = None,
    baseline: bool = True,
) -> PoisoningResult:
    """Retrain victims on ``poisoned`` (and on the clean ``x_clean, y_clean``) over ``seeds``
    seeds and measure attack success and clean accuracy on ``x_test, y_test``.

    ``augment`` (``None`` | ``"shift"`` | ``"noise"``) trains the victims with data
    augmentation, a mitigation. ``baseline=False`` skips the clean victims (``clean_drop``
    is then empty). ``executor`` is ``serial``, ``processes``, ``ray``, an
    :class:`~advlab.parallel.Executor`, or ``vectorized``: every victim stacked in one
    training run (scratch mode without augmentation; ``executor_kwargs={"device": ...}``).
    """
    if seeds < 1:
        raise ConfigError(f"seeds must be >= 1, got {seeds}")
    if mode not in MODES:
        raise ConfigError(f"victim mode must be one of {', '.join(MODES)}, got {mode!r}")
    t0 = time.perf_counter()
    xc = np.asarray(x_clean, dtype=np.float32)
    yc = np.asarray(y_clean, dtype=np.int64)
    xte = np.asarray(x_test, dtype=np.float32)
    yte = np.asarray(y_test, dtype=np.int64)
    xp = np.asarray(poisoned.x, dtype=np.float32)
    yp = np.asarray(poisoned.y, dtype=np.int64)
    if xp.shape[1:] != xte.shape[1:]:
        raise InputError(f"poisoned inputs {xp.shape[1:]} and test inputs {xte.shape[1:]} differ")
    num_classes = int(max(yc.max(), yte.max(), yp.max()) + 1)
    evaluation = evaluation_for(poisoned, num_classes)
    cfg = (train or TrainConfig()).to_dict()
    run_seeds = task_seeds(seed, seeds)
    common = {
        "spec": spec,
        "x_test": xte,
        "y_test": yte,
        "train": cfg,
        "mode": mode,
        "init_state": init_state,
        "augment": augment,
        "evaluation": evaluation,
    }
    tasks = [{**common, "x": xp, "y": yp, "seed": s} for s in run_seeds]
    if baseline:
        tasks += [{**common, "x": xc, "y": yc, "seed": s} for s in run_seeds]
    if executor == "vectorized":
        from advlab.attacks.poisoning.victim_vmap import stacked_victims

        start = time.perf_counter()
        models = stacked_victims(tasks, **(executor_kwargs or {}))
        share = (time.perf_counter() - start) / len(tasks)  # the run's time, shared equally
        out = [
            {
                "accuracy": float((predict(m, xte) == yte).mean()),
                "success": attack_success(m, evaluation, xte, yte),
                "seconds": share,
            }
            for m in models
        ]
    else:
        ex = (
            get_executor(executor, **(executor_kwargs or {}))
            if isinstance(executor, str)
            else executor
        )
        out = ex.map(victim_task, tasks, description="victims")
    pois, base = out[:seeds], out[seeds:]
    return PoisoningResult(
        attack=poisoned.attack,
        params=poisoned.params,
        seed=seed,
        seconds=time.perf_counter() - t0,
        evaluation=evaluation["kind"],
        victim={"mode": mode, "spec": spec, "train": cfg, "augment": augment},
        seeds=run_seeds,
        success=[r["success"] for r in pois],
        baseline_success=[r["success"] for r in base],
        clean_accuracy=[r["accuracy"] for r in pois],
        baseline_accuracy=[r["accuracy"] for r in base],
        n_poison=poisoned.n_poison,
        budget=poisoned.budget,
        eps=poisoned.eps,
    )

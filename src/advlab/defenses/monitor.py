"""Query monitoring against model extraction: per-client streams and the PRADA detector.

Juuti, Szyller, Marchal & Asokan, "PRADA: Protecting Against DNN Model Stealing Attacks",
IEEE EuroS&P 2019 (arXiv:1805.02628).

PRADA keeps, for each client and each predicted class ``c``, a growing set ``G_c`` of that
client's earlier queries. For a new query ``x`` predicted as ``c`` it computes the minimum
L2 distance ``d_min`` from ``x`` to ``G_c`` and appends it to the client's distance record
``D``; ``x`` joins ``G_c`` when ``d_min`` exceeds the class threshold ``T_c``, which is then
raised to ``max(T_c, mean(D_Gc) - std(D_Gc))`` over the distances of the points that joined
(Algorithm 1 of the paper; the first query of a class always joins). Benign queries drawn from a
natural distribution give roughly normally distributed distances; synthetic attack
queries (small perturbations of earlier ones, e.g. Jacobian-based augmentation) give a
skewed, multi-modal record. An alarm is raised when the Shapiro-Wilk statistic ``W`` of
``D`` (``scipy.stats.shapiro``) falls below ``threshold`` once ``D`` holds ``min_queries``
distances. Known limitation (Orekondy et al. 2019; Juuti et al. 2019 themselves): streams
of *natural* inputs, such as a Knockoff attacker querying another natural dataset, look
benign and evade PRADA.

:class:`QueryMonitor` wraps a target: every answered query is fed to the detector under the
current client id; ``action="flag"`` records alarms, ``action="block"`` refuses further
queries from a flagged client (:class:`ClientBlocked`).

Examples:
    >>> monitored = QueryMonitor(detector=PRADA(), action="block").apply(target)
    >>> alice = monitored.for_client("alice")
    >>> alice.labels(x)            # raises ClientBlocked once alice's stream is flagged
    >>> monitored.report()["alice"]["flagged"]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from advlab.defenses.base import DefendedTarget, Defense
from advlab.errors import AccessError, ConfigError
from advlab.registry import register_defense
from advlab.targets.base import Objective, Target

log = logging.getLogger(__name__)

__all__ = ["PRADA", "ClientBlocked", "ClientState", "MonitoredTarget", "QueryMonitor"]


class ClientBlocked(AccessError):
    """A query monitor refused a client whose query stream was flagged."""


@dataclass
class ClientState:
    """One client's stream as seen by the detector."""

    queries: int = 0
    distances: list[float] = field(default_factory=list)
    growing: dict[int, list[torch.Tensor]] = field(default_factory=dict)
    class_distances: dict[int, list[float]] = field(default_factory=dict)
    thresholds: dict[int, float] = field(default_factory=dict)
    flagged: bool = False
    first_alarm: int | None = None
    statistic: float | None = None


class PRADA:
    """The PRADA detector (Juuti et al. 2019); keeps per-client state in :class:`ClientState`.

    Args:
        threshold: alarm when the Shapiro-Wilk ``W`` of the distance record is below it.
        min_queries: distances needed before testing (the test is meaningless on few).
        per_class: minimum distances within the predicted class (as in the paper) or over
            all earlier queries.
        test_every: run the test every this many new distances (1 = after each query).
    """

    name = "prada"

    def __init__(
        self,
        *,
        threshold: float = 0.95,
        min_queries: int = 100,
        per_class: bool = True,
        test_every: int = 1,
    ) -> None:
        self.threshold = threshold
        self.min_queries = min_queries
        self.per_class = per_class
        self.test_every = test_every

    def get_params(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "min_queries": self.min_queries,
            "per_class": self.per_class,
            "test_every": self.test_every,
        }

    def validate(self) -> None:
        if not 0 < float(self.threshold) < 1:
            raise ConfigError(f"prada: threshold must be in (0, 1), got {self.threshold!r}")
        if not isinstance(self.min_queries, int) or self.min_queries < 3:
            raise ConfigError(
                f"prada: min_queries must be an integer >= 3, got {self.min_queries!r}"
            )
        if not isinstance(self.test_every, int) or self.test_every < 1:
            raise ConfigError("prada: test_every must be a positive integer")

    def update(self, state: ClientState, x: torch.Tensor, label: int) -> bool:
        """Feed one query (flattened float64 row) with its predicted label; returns ``True``
        when the stream is (now or already) flagged."""
        from scipy.stats import shapiro

        state.queries += 1
        key = int(label) if self.per_class else 0
        grow = state.growing.setdefault(key, [])
        xf = x.reshape(-1).to(torch.float64).cpu()
        if not grow:
            grow.append(xf)
            return state.flagged
        d_min = float(torch.cdist(xf[None], torch.stack(grow)).min())
        state.distances.append(d_min)
        if d_min > state.thresholds.get(key, 0.0):
            grow.append(xf)
            dc = state.class_distances.setdefault(key, [])
            dc.append(d_min)
            state.thresholds[key] = max(
                state.thresholds.get(key, 0.0), float(np.mean(dc) - np.std(dc))
            )
        n = len(state.distances)
        if n >= self.min_queries and n % self.test_every == 0:
            arr = np.asarray(state.distances)
            if float(arr.std()) == 0.0:
                w = 0.0  # all distances equal (e.g. repeated queries): maximally non-normal
            else:
                w = float(shapiro(arr).statistic)
            state.statistic = w
            if w < self.threshold and not state.flagged:
                state.flagged = True
                state.first_alarm = state.queries
                log.info("prada: alarm after %d queries (W=%.4f)", state.queries, w)
        return state.flagged


class MonitoredTarget(DefendedTarget):
    """A target whose every query is fed to a detector under a client id."""

    def __init__(
        self,
        inner: Target,
        defense: QueryMonitor,
        detector: PRADA,
        *,
        client: str = "default",
        states: dict[str, ClientState] | None = None,
    ) -> None:
        super().__init__(inner, defense)
        self.monitor = defense
        self.detector = detector
        self.client = client
        self.states: dict[str, ClientState] = states if states is not None else {}
        self.deterministic = False  # stateful: answers may change once a client is flagged

    def for_client(self, client: str) -> MonitoredTarget:
        """A view of the same monitored target that queries as ``client`` (shared state)."""
        view = MonitoredTarget(
            self.inner, self.monitor, self.detector, client=client, states=self.states
        )
        view.access = self.access
        return view

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        state = self.states.setdefault(self.client, ClientState())
        if state.flagged and self.monitor.action == "block":
            raise ClientBlocked(
                f"query monitor: client {self.client!r} is blocked (flagged by "
                f"{self.detector.name} after {state.first_alarm} queries)"
            )
        out = self.inner._forward(x)
        labels = out.argmax(1).tolist()
        for row, lab in zip(x, labels, strict=True):
            self.detector.update(state, row, lab)
        return out

    def _gradient(self, x: torch.Tensor, objective: Objective) -> tuple[torch.Tensor, torch.Tensor]:
        grad, out = self.inner._gradient(x, objective)
        self._forward(x)  # the points are seen by the monitor too (not charged twice)
        return grad, out

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["defense"] = {
            "name": self.monitor.name,
            "params": {
                "action": self.monitor.action,
                "detector": self.detector.name,
                **self.detector.get_params(),
            },
        }
        d["client"] = self.client
        return d

    def report(self) -> dict[str, dict[str, Any]]:
        """Per client: queries seen, flagged, first alarm (query index), last statistic."""
        return {
            c: {
                "queries": s.queries,
                "flagged": s.flagged,
                "first_alarm": s.first_alarm,
                "statistic": s.statistic,
            }
            for c, s in self.states.items()
        }


@register_defense
class QueryMonitor(Defense):
    """Monitor each client's query stream with a detector; flag or block.

    Args:
        detector: the stream detector (default :class:`PRADA` with its defaults).
        action: ``"flag"`` (record only) or ``"block"`` (refuse a flagged client).
    """

    name = "query_monitor"
    role: ClassVar[str] = "detector"
    threat: ClassVar[str] = "extraction"
    paper = "Juuti et al. 2019, EuroS&P, arXiv:1805.02628 (PRADA)"
    summary = "Per-client query streams checked by PRADA; flag or block the client."
    link = "arXiv:1805.02628"
    flags = frozenset({"wraps_target"})

    expected_failures = {
        "efficacy_floor": "with action='flag' it records suspicious clients in report() and "
        "leaves answers unchanged; its detection is tested in tests/extraction/test_monitor.py"
    }

    def __init__(self, *, detector: PRADA | None = None, action: str = "flag") -> None:
        self.detector = detector
        self.action = action

    def apply(self, target: Target) -> MonitoredTarget:
        if self.action not in ("flag", "block"):
            raise ConfigError(
                f"query_monitor: action must be 'flag' or 'block', got {self.action!r}"
            )
        detector = self.detector if self.detector is not None else PRADA()
        detector.validate()
        return MonitoredTarget(target, self, detector)

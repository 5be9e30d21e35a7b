"""The shared shape of evasion challenges: points to move inside an Lp ball, graded on the
hidden or defended model's labels."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from advlab.lab import victims
from advlab.lab.base import Challenge, Verdict
from advlab.lab.grading import check_points, decode_arrays


class EvasionChallenge(Challenge):
    """Subclasses build ``{"x", "y", ...}`` in :meth:`_build` and say how the graded model
    labels points (:meth:`graded_labels`); the handout, the checks and the verdict are here."""

    eps: ClassVar[float] = 0.1
    norm: ClassVar[str] = "linf"
    n_points: ClassVar[int] = 10
    threshold: ClassVar[float] = 0.8
    """Share of the points that must be misclassified."""

    def graded_labels(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def handout(self) -> dict[str, Any]:
        s = self.state()
        return {
            "eps": self.eps,
            "norm": self.norm,
            "bounds": [0.0, 1.0],
            "input_shape": list(s["x"].shape[1:]),
            "num_classes": 10,
            "x": victims.as_lists(s["x"]),
            "y": s["y"].tolist(),
            **self.extra_handout(),
        }

    def extra_handout(self) -> dict[str, Any]:
        return {}

    def _grade(self, data: bytes, filename: str) -> Verdict:
        s = self.state()
        x_adv = check_points(
            decode_arrays(data)["x"],
            shape=s["x"].shape,
            bounds=(0.0, 1.0),
            reference=s["x"],
            eps=self.eps,
            norm=self.norm,
        )
        wrong = self.graded_labels(x_adv) != s["y"]
        rate = float(wrong.mean())
        metrics = {"misclassified": rate, "threshold": self.threshold}
        msg = f"{wrong.sum()} of {len(wrong)} points misclassified"
        if rate >= self.threshold:
            return Verdict(True, msg, metrics)
        return Verdict(False, f"{msg}; need {self.threshold:.0%}", metrics)


def correct_points(model: Any, n: int, *, start: int = 0, transform: Any = None) -> dict[str, Any]:
    """The first ``n`` digits test points from ``start`` that ``model`` (after ``transform``)
    classifies correctly, rounded as the handout shows them."""
    ds = victims.digits()
    xs, ys = ds.x_test[start:], ds.y_test[start:]
    seen = transform(xs).astype(np.float32) if transform is not None else xs
    idx = np.flatnonzero(victims.predict(model, seen) == ys)[:n]
    return {"x": np.round(xs[idx], 6).astype(np.float32), "y": ys[idx]}

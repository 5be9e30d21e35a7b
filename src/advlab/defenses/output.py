"""Output-perturbation defenses against model extraction (and membership inference).

Each defense wraps a target and post-processes the probability vector it returns; the
wrapped target declares ``output="probs"`` and offers at most *scores* access (gradients
through a post-processed API are not offered: an attacker of a deployed API sees only what
the API returns). Labels are the arg-max of what the API returns.

- :class:`Rounding` -- round probabilities to ``decimals`` places (Tramer et al. 2016,
  "Stealing Machine Learning Models via Prediction APIs", USENIX Security).
- :class:`TopK` -- return only the ``k`` largest probabilities, renormalised (Tramer 2016;
  Orekondy et al. 2019).
- :class:`LabelOnlyOutput` -- return only the label (a one-hot vector): label access.
- :class:`GaussianOutputNoise` -- add seeded Gaussian noise to the probabilities, clip,
  renormalise.
- :class:`ReverseSigmoid` -- Lee, Edraki & Qi, "Defending Against NN Model Stealing Attacks
  Using Deceptive Perturbations", IEEE S&P Workshops 2019 (arXiv:1806.00054):
  ``y' = y - beta * (sigmoid(gamma * logit(y)) - 1/2)``, clipped and renormalised.
- :class:`PredictionPoisoning` -- Orekondy, Schiele & Fritz, "Prediction Poisoning: Towards
  Defenses Against DNN Model Stealing Attacks", ICLR 2020 (arXiv:1906.10908), in a simple
  closed form of MAD-argmax (see the class docstring).

Example:
    >>> defended = TopK(k=1).apply(target)
    >>> defended.scores(x)  # one non-zero entry per row
"""

from __future__ import annotations

from typing import ClassVar

import torch

from advlab.access import Access
from advlab.defenses.base import DefendedTarget, Defense
from advlab.errors import AccessError, ConfigError
from advlab.registry import register_defense
from advlab.targets.base import Objective, Target

__all__ = [
    "GaussianOutputNoise",
    "LabelOnlyOutput",
    "OutputDefense",
    "PostprocessedTarget",
    "PredictionPoisoning",
    "ReverseSigmoid",
    "Rounding",
    "TopK",
    "to_probs",
]


def to_probs(scores: torch.Tensor, output: str) -> torch.Tensor:
    """Probabilities from raw target outputs (softmax of logits, identity for probs)."""
    if output == "logits":
        return torch.softmax(scores, dim=1)
    return scores


def _renormalise(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp_min(0.0)
    s = p.sum(dim=1, keepdim=True)
    k = p.shape[1]
    return torch.where(s > 0, p / s.clamp_min(1e-30), torch.full_like(p, 1.0 / k))


class PostprocessedTarget(DefendedTarget):
    """A target whose probability outputs pass through ``defense.postprocess``.

    Access is lowered to at most scores (labels for :class:`LabelOnlyOutput`); outputs are
    probabilities. The original model is still called through the shared query meter.
    """

    def __init__(self, inner: Target, defense: OutputDefense, *, access: Access) -> None:
        super().__init__(inner, defense, access=access)
        self.output = "probs"
        self._post = defense
        self._generator: torch.Generator | None = None
        seed = getattr(defense, "seed", None)
        if seed is not None:
            self._generator = torch.Generator(device="cpu").manual_seed(int(seed))
        self.deterministic = inner.deterministic and not defense.has("randomized")

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        p = to_probs(self.inner._forward(x), self.inner.output)
        return self._post.postprocess(p, generator=self._generator)

    def _gradient(self, x: torch.Tensor, objective: Objective) -> tuple[torch.Tensor, torch.Tensor]:
        raise AccessError(
            f"{self.defense.name}: gradients are not offered through a post-processed API "
            "(the defended target gives scores at most)"
        )


class OutputDefense(Defense):
    """Base of output-perturbation defenses: subclasses implement :meth:`postprocess`."""

    role: ClassVar[str] = "postprocess"
    threat: ClassVar[str] = "extraction"
    max_access: ClassVar[Access] = Access.SCORES
    """Whether the post-processing draws randomness (the target is then not deterministic)."""

    def _validate(self) -> None:
        """Check constructor arguments (called by :meth:`apply`)."""

    def postprocess(
        self, probs: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Map a batch of probability vectors ``(N, K)`` to the defended output."""
        raise NotImplementedError

    def apply(self, target: Target) -> Target:
        self._validate()
        return PostprocessedTarget(target, self, access=min(self.max_access, target.access))


@register_defense
class Rounding(OutputDefense):
    """Round each probability to ``decimals`` decimal places (ties in the arg-max can occur).

    Args:
        decimals: number of decimal places kept (>= 0).
    """

    name = "rounding"
    paper = "Tramer et al. 2016, USENIX Security (arXiv:1609.02943)"
    summary = "Round returned probabilities to a few decimals."
    link = "arXiv:1609.02943"
    flags = frozenset({"wraps_target"})

    def __init__(self, *, decimals: int = 1) -> None:
        self.decimals = decimals

    def _validate(self) -> None:
        if not isinstance(self.decimals, int) or self.decimals < 0:
            raise ConfigError(f"rounding: decimals must be an integer >= 0, got {self.decimals!r}")

    def postprocess(
        self, probs: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return torch.round(probs, decimals=self.decimals)


@register_defense
class TopK(OutputDefense):
    """Keep the ``k`` largest probabilities, zero the others and renormalise.

    Args:
        k: number of scores kept (>= 1); ``k=1`` returns a one-hot vector.
    """

    name = "top_k"
    paper = "Tramer et al. 2016 (arXiv:1609.02943); Orekondy et al. 2019 (arXiv:1812.02766)"
    summary = "Return only the top-k probabilities, renormalised."
    link = "arXiv:1609.02943"
    flags = frozenset({"wraps_target"})

    def __init__(self, *, k: int = 1) -> None:
        self.k = k

    def _validate(self) -> None:
        if not isinstance(self.k, int) or self.k < 1:
            raise ConfigError(f"top_k: k must be an integer >= 1, got {self.k!r}")

    def postprocess(
        self, probs: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        k = min(self.k, probs.shape[1])
        vals, idx = probs.topk(k, dim=1)
        out = torch.zeros_like(probs).scatter(1, idx, vals)
        return _renormalise(out)


@register_defense
class LabelOnlyOutput(OutputDefense):
    """Return only the predicted label (as a one-hot vector); lowers access to labels."""

    name = "label_only"
    max_access = Access.LABELS
    paper = "Tramer et al. 2016 (arXiv:1609.02943)"
    summary = "Answer labels only (one-hot), no scores."
    link = "arXiv:1609.02943"
    flags = frozenset({"wraps_target"})

    def __init__(self) -> None:
        pass

    def postprocess(
        self, probs: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return torch.nn.functional.one_hot(probs.argmax(1), probs.shape[1]).to(probs.dtype)


@register_defense
class GaussianOutputNoise(OutputDefense):
    """Add ``N(0, sigma^2)`` noise to each probability, clip at 0 and renormalise.

    The noise stream is seeded once when the defense is applied (``seed``), so a defended
    target answers the same sequence of queries identically across runs.

    Args:
        sigma: noise standard deviation (> 0).
        seed: seed of the noise generator.
    """

    name = "gaussian_output_noise"
    paper = "output perturbation baseline (e.g. Orekondy et al. 2020, arXiv:1906.10908)"
    summary = "Add seeded Gaussian noise to returned probabilities."
    link = "arXiv:1906.10908"
    flags = frozenset({"randomized", "wraps_target"})

    def __init__(self, *, sigma: float = 0.05, seed: int | None = 0) -> None:
        self.sigma = sigma
        self.seed = seed

    def _validate(self) -> None:
        self._positive(sigma=self.sigma)

    def postprocess(
        self, probs: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        noise = torch.randn(probs.shape, generator=generator, dtype=probs.dtype)
        return _renormalise(probs + self.sigma * noise.to(probs.device))


@register_defense
class ReverseSigmoid(OutputDefense):
    """Reverse-sigmoid deceptive perturbation (Lee et al. 2019).

    ``y' = y - beta * (sigmoid(gamma * logit(y)) - 1/2)`` with ``y`` clipped to
    ``[1e-6, 1 - 1e-6]``; the result is clipped at 0 and renormalised. The perturbation
    makes the inverse of the output non-unique, which breaks training on soft labels.

    Args:
        beta: perturbation magnitude (> 0).
        gamma: dataset-specific slope (> 0).
    """

    name = "reverse_sigmoid"
    paper = "Lee et al. 2019, arXiv:1806.00054"
    summary = "Reverse-sigmoid perturbation of the returned probabilities."
    link = "arXiv:1806.00054"
    flags = frozenset({"wraps_target"})

    def __init__(self, *, beta: float = 1.0, gamma: float = 0.1) -> None:
        self.beta = beta
        self.gamma = gamma

    def _validate(self) -> None:
        self._positive(beta=self.beta, gamma=self.gamma)

    def postprocess(
        self, probs: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        y = probs.clamp(1e-6, 1.0 - 1e-6)
        r = self.beta * (torch.sigmoid(self.gamma * torch.log(y / (1.0 - y))) - 0.5)
        return _renormalise(probs - r)


@register_defense
class PredictionPoisoning(OutputDefense):
    """Prediction poisoning, a closed-form MAD-argmax (Orekondy et al. 2020).

    MAD picks, within an L1 budget ``eps``, the posterior ``y~`` whose induced training
    gradient ``G^T y~`` deviates most in angle from the true one ``G^T y``, where ``G`` is
    the Jacobian of the attacker's log-likelihood with respect to its parameters. Here the
    attacker is modelled as a freshly initialised softmax-linear surrogate (the paper's
    default assumption: a surrogate at initialisation, whose posterior is close to uniform
    ``u``). For such a model ``G^T y = (y - u) x^T`` up to a common factor, so the angular
    deviation depends only on ``y - u``; the linear objective is maximised at a simplex
    vertex ``e_j``, which is the class with the smallest ``(e_j - u) . (y - u) = y_j - 1/K``,
    i.e. the *least likely* class. The defense moves ``y`` towards ``e_j`` by
    ``alpha = eps / ||e_j - y||_1`` (so ``||y~ - y||_1 <= eps``), capped so that the top-1
    label is unchanged (the "argmax" constraint of the paper).

    Args:
        eps: L1 budget on the change of each posterior, in ``(0, 2]``.
    """

    name = "prediction_poisoning"
    paper = "Orekondy et al. 2020, ICLR, arXiv:1906.10908"
    summary = "MAD-argmax: perturb posteriors within an L1 budget, keeping the top-1 label."
    link = "arXiv:1906.10908"
    flags = frozenset({"wraps_target"})

    def __init__(self, *, eps: float = 0.5) -> None:
        self.eps = eps

    def _validate(self) -> None:
        if not (isinstance(self.eps, (int, float)) and 0 < float(self.eps) <= 2):
            raise ConfigError(f"prediction_poisoning: eps must be in (0, 2], got {self.eps!r}")

    def postprocess(
        self, probs: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        y = _renormalise(probs)
        top = y.argmax(1, keepdim=True)
        j = y.argmin(1, keepdim=True)
        y_top = y.gather(1, top)
        y_j = y.gather(1, j)
        dist = (2.0 * (1.0 - y_j)).clamp_min(1e-12)  # ||e_j - y||_1
        alpha = (float(self.eps) / dist).clamp(max=1.0)
        gap = y_top - y_j
        keep = 0.999 * gap / (1.0 + gap)  # alpha below this keeps y~_top > y~_j
        alpha = torch.minimum(alpha, keep)
        e_j = torch.zeros_like(y).scatter(1, j, 1.0)
        return (1.0 - alpha) * y + alpha * e_j

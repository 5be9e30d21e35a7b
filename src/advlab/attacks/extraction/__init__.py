"""Model-extraction attacks; importing this package registers them (kind ``"extraction"``).

Exact parameter recovery: :class:`EquationSolving` (logistic regression),
:class:`PathFinding` (decision trees), :class:`Cryptanalytic` (ReLU networks),
:class:`LogitSVD` (hidden dimension + final layer). Surrogate training:
:class:`KnockoffNets`, :class:`JacobianAugmentation`, :class:`ActiveExtraction`; and
:class:`TransferEvasion` (extraction feeding evasion).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from advlab._lazy import lazy_exports

# ``logit_svd`` is both a submodule and a function: import the function eagerly, so that the
# submodule's import (by plugin discovery) cannot shadow it.
from advlab.attacks.extraction.logit_svd import logit_svd

if TYPE_CHECKING:
    from advlab.attacks.extraction.active import ActiveExtraction
    from advlab.attacks.extraction.base import ExtractionAttack, ExtractionResult, Stolen
    from advlab.attacks.extraction.cryptanalytic import Cryptanalytic
    from advlab.attacks.extraction.equation_solving import EquationSolving
    from advlab.attacks.extraction.jacobian import JacobianAugmentation
    from advlab.attacks.extraction.knockoff import KnockoffNets
    from advlab.attacks.extraction.logit_svd import LogitSVD
    from advlab.attacks.extraction.path_finding import LeafOracle, PathFinding
    from advlab.attacks.extraction.transfer import TransferEvasion

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ActiveExtraction": "advlab.attacks.extraction.active",
        "ExtractionAttack": "advlab.attacks.extraction.base",
        "ExtractionResult": "advlab.attacks.extraction.base",
        "Stolen": "advlab.attacks.extraction.base",
        "Cryptanalytic": "advlab.attacks.extraction.cryptanalytic",
        "EquationSolving": "advlab.attacks.extraction.equation_solving",
        "JacobianAugmentation": "advlab.attacks.extraction.jacobian",
        "KnockoffNets": "advlab.attacks.extraction.knockoff",
        "LogitSVD": "advlab.attacks.extraction.logit_svd",
        "LeafOracle": "advlab.attacks.extraction.path_finding",
        "PathFinding": "advlab.attacks.extraction.path_finding",
        "TransferEvasion": "advlab.attacks.extraction.transfer",
    },
)

__all__ = [
    "ActiveExtraction",
    "Cryptanalytic",
    "EquationSolving",
    "ExtractionAttack",
    "ExtractionResult",
    "JacobianAugmentation",
    "KnockoffNets",
    "LeafOracle",
    "LogitSVD",
    "PathFinding",
    "Stolen",
    "TransferEvasion",
    "logit_svd",
]

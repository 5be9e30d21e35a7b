"""Model-extraction attacks; importing this package registers them (kind ``"extraction"``).

Exact parameter recovery: :class:`EquationSolving` (logistic regression),
:class:`PathFinding` (decision trees), :class:`Cryptanalytic` (ReLU networks),
:class:`LogitSVD` (hidden dimension + final layer). Surrogate training:
:class:`KnockoffNets`, :class:`JacobianAugmentation`, :class:`ActiveExtraction`; and
:class:`TransferEvasion` (extraction feeding evasion).
"""

from advlab.attacks.extraction.active import ActiveExtraction
from advlab.attacks.extraction.base import ExtractionAttack, ExtractionResult, Stolen
from advlab.attacks.extraction.cryptanalytic import Cryptanalytic
from advlab.attacks.extraction.equation_solving import EquationSolving
from advlab.attacks.extraction.jacobian import JacobianAugmentation
from advlab.attacks.extraction.knockoff import KnockoffNets
from advlab.attacks.extraction.logit_svd import LogitSVD, logit_svd
from advlab.attacks.extraction.path_finding import LeafOracle, PathFinding
from advlab.attacks.extraction.transfer import TransferEvasion

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

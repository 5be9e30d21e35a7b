"""Evasion attacks: adversarial examples against classifiers.

White-box: FGSM, PGD, MI-FGSM, NI-FGSM (on the shared gradient-iterative core), APGD, APGD-T,
C&W L2, DeepFool, FAB / FAB-T; ensemble: AutoAttack; transfer:
Transfer; score-based: Square, SimBA; decision-based: HopSkipJump.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from advlab._lazy import lazy_exports

if TYPE_CHECKING:
    from advlab.attacks.evasion.apgd import APGD, APGDT
    from advlab.attacks.evasion.autoattack import AutoAttack
    from advlab.attacks.evasion.base import EvasionAttack
    from advlab.attacks.evasion.cw import CarliniWagnerL2
    from advlab.attacks.evasion.deepfool import DeepFool
    from advlab.attacks.evasion.fab import FAB
    from advlab.attacks.evasion.fgsm import FGSM
    from advlab.attacks.evasion.hopskipjump import HopSkipJump
    from advlab.attacks.evasion.iterative import GradientIterativeAttack
    from advlab.attacks.evasion.mifgsm import MIFGSM
    from advlab.attacks.evasion.nifgsm import NIFGSM
    from advlab.attacks.evasion.pgd import PGD
    from advlab.attacks.evasion.simba import SimBA
    from advlab.attacks.evasion.square import Square
    from advlab.attacks.evasion.transfer import Transfer

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "APGD": "advlab.attacks.evasion.apgd",
        "APGDT": "advlab.attacks.evasion.apgd",
        "AutoAttack": "advlab.attacks.evasion.autoattack",
        "EvasionAttack": "advlab.attacks.evasion.base",
        "CarliniWagnerL2": "advlab.attacks.evasion.cw",
        "DeepFool": "advlab.attacks.evasion.deepfool",
        "FAB": "advlab.attacks.evasion.fab",
        "FGSM": "advlab.attacks.evasion.fgsm",
        "HopSkipJump": "advlab.attacks.evasion.hopskipjump",
        "PGD": "advlab.attacks.evasion.pgd",
        "MIFGSM": "advlab.attacks.evasion.mifgsm",
        "NIFGSM": "advlab.attacks.evasion.nifgsm",
        "GradientIterativeAttack": "advlab.attacks.evasion.iterative",
        "SimBA": "advlab.attacks.evasion.simba",
        "Square": "advlab.attacks.evasion.square",
        "Transfer": "advlab.attacks.evasion.transfer",
    },
)

__all__ = [
    "APGD",
    "APGDT",
    "FAB",
    "FGSM",
    "PGD",
    "MIFGSM",
    "NIFGSM",
    "GradientIterativeAttack",
    "AutoAttack",
    "CarliniWagnerL2",
    "DeepFool",
    "EvasionAttack",
    "HopSkipJump",
    "SimBA",
    "Square",
    "Transfer",
]

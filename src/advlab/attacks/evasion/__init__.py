"""Evasion attacks: adversarial examples against classifiers.

White-box: FGSM, PGD, APGD, APGD-T, C&W L2, DeepFool, FAB / FAB-T; ensemble: AutoAttack; transfer:
Transfer; score-based: Square, SimBA; decision-based: HopSkipJump.
"""

from advlab.attacks.evasion.apgd import APGD, APGDT
from advlab.attacks.evasion.autoattack import AutoAttack
from advlab.attacks.evasion.base import EvasionAttack
from advlab.attacks.evasion.cw import CarliniWagnerL2
from advlab.attacks.evasion.deepfool import DeepFool
from advlab.attacks.evasion.fab import FAB
from advlab.attacks.evasion.fgsm import FGSM
from advlab.attacks.evasion.hopskipjump import HopSkipJump
from advlab.attacks.evasion.pgd import PGD
from advlab.attacks.evasion.simba import SimBA
from advlab.attacks.evasion.square import Square
from advlab.attacks.evasion.transfer import Transfer

__all__ = [
    "APGD",
    "APGDT",
    "FAB",
    "FGSM",
    "PGD",
    "AutoAttack",
    "CarliniWagnerL2",
    "DeepFool",
    "EvasionAttack",
    "HopSkipJump",
    "SimBA",
    "Square",
    "Transfer",
]

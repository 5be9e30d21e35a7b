"""Evasion attacks: adversarial examples against classifiers."""

from advlab.attacks.evasion.base import EvasionAttack
from advlab.attacks.evasion.fgsm import FGSM
from advlab.attacks.evasion.pgd import PGD

__all__ = ["FGSM", "PGD", "EvasionAttack"]

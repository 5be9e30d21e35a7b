"""Defenses: target wrappers (input transforms, output masks, detectors), training options
(adversarial training, DP-SGD) and data sanitisers; importing this package registers them."""

from advlab.defenses.base import DefendedTarget, Defense

__all__ = ["DefendedTarget", "Defense"]

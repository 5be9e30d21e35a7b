"""advlab: an adversarial machine learning toolkit and lab."""

__version__ = "0.1.0"

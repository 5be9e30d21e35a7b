"""advlab: an adversarial machine learning toolkit and lab."""

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load_model"]


def __getattr__(name: str) -> Any:  # lazy: importing advlab stays light
    if name == "load_model":
        from advlab.serialization.safe_load import load_model

        return load_model
    raise AttributeError(name)

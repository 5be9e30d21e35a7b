"""Exceptions raised by advlab; each names what was wrong and what was expected."""

from __future__ import annotations


def one_line(message: str, limit: int = 2000) -> str:
    """``message`` on one line (its lines joined by '; '), at most ``limit`` characters: the
    command line prints every error this way."""
    text = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
    text = text.replace(":;", ":")
    return text if len(text) <= limit else text[: limit - 3] + "..."


class AdvlabError(Exception):
    """Base class of every error advlab raises on purpose (the CLI prints these in one line)."""


class InputError(AdvlabError, ValueError):
    """Bad input data: wrong shape, out of bounds, NaN/inf, unknown labels."""


class ConfigError(AdvlabError, ValueError):
    """A bad parameter or configuration value."""


class AccessError(AdvlabError):
    """The attack needs more access (scores, gradients) than the target grants."""


class BudgetExhausted(AdvlabError):
    """The target's query budget would be exceeded by the next call."""


class UnknownNameError(AdvlabError, KeyError):
    """An unknown attack, defense or dataset name; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that
        return str(self.args[0]) if self.args else ""


class UnsafeFileError(AdvlabError):
    """A model file that would need code execution to load (e.g. a pickle)."""


class TargetUnavailable(AdvlabError):
    """The target gave no usable answer: unreachable, failing after retries, or malformed.

    Attacks treat it like :class:`BudgetExhausted`: they stop and return the partial result,
    marked stopped early with this message.
    """


class OutputPathError(AdvlabError):
    """An output path that cannot be written (a directory where a file is expected, a file on
    the way, an unwritable folder, a name escaping its root); raised before any work."""

"""The lab: graded challenges (one file each in :mod:`advlab.lab.challenges`), per-user flags
and a local challenge server (``advlab lab serve``).

See ``docs/lab.md``. The challenge contract is :class:`advlab.lab.base.Challenge`.
"""

from advlab.lab.base import Challenge, Rejected, Verdict, all_challenges, get_challenge

__all__ = ["Challenge", "Rejected", "Verdict", "all_challenges", "get_challenge"]

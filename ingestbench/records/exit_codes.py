"""The exit codes: the interface a CI job sees, decided by one judge whichever command asks.

Precedence when several apply: ``INVALID`` (the run cannot be trusted) > ``SLO_FAILED`` > ``OK``. ``USAGE``
is raised before anything runs.

>>> ExitCode.INVALID.meaning
'run invalid'
>>> int(ExitCode.SLO_FAILED)
1
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    SLO_FAILED = 1
    USAGE = 2
    INVALID = 3

    @property
    def meaning(self) -> str:
        return _MEANING[self]


_MEANING = {
    ExitCode.OK: "pass",
    ExitCode.SLO_FAILED: "an SLO failed",
    ExitCode.USAGE: "usage or config error",
    ExitCode.INVALID: "run invalid",
}


def meaning(code: object) -> str:
    """What an exit code read back from a file means (``?`` for anything that is not one)."""
    try:
        return ExitCode(code).meaning  # type: ignore[arg-type]
    except ValueError:
        return "?"

"""Whether the tests run in CI: the one place that reads ``CI``.

CI is where every system package the tests need is installed (``.ci/run``), so there a missing tool is a
failure, never a skip. ``CI`` set to ``true``, ``1`` or ``yes`` (any case) means CI; unset, empty, ``false``,
``0`` or anything else means a developer's machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

TRUE = ("true", "1", "yes")


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``CI`` (in ``environ``, by default the process's) says this is a CI run."""
    env = os.environ if environ is None else environ
    return env.get("CI", "").strip().lower() in TRUE

"""Process lifetime, the one fact about processes every layer shares: a child that dies with its parent.

A killed ``ingestbench run`` (even by SIGKILL) must leave nothing running: its children, the Locust master's
forked workers and the servers the tests start all ask the kernel for a signal when their parent dies.
"""

from __future__ import annotations

import ctypes
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Get ``sig`` when the parent process dies (``PR_SET_PDEATHSIG``); usable as a ``preexec_fn``. Linux
    only; elsewhere a no-op. It does not pass on to children the caller forks later."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig)
    except (OSError, AttributeError):
        pass

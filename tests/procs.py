"""Processes seen from ``/proc``: a process tree, who is still alive, resident memory. Linux only.

Used by the fault tests (no orphan may outlive a run) and the soak benchmark (memory per process)::

    below = descendants(run_pid)          # every process started under the run, at any depth
    assert wait_gone(below, timeout_s=30)
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")


def parent_pids() -> dict[int, int]:
    """Every process's parent pid (the 4th field of ``/proc/<pid>/stat``, after the command in brackets)."""
    parents: dict[int, int] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return parents


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, at any depth (not ``pid`` itself)."""
    parents = parent_pids()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def cmdline(pid: int) -> str:
    """The command line of ``pid`` with spaces between arguments ('' when gone or a zombie)."""
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped, does not count)."""
    try:
        state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_gone(pids: Iterable[int], timeout_s: float) -> set[int]:
    """Wait until none of ``pids`` is alive; returns those still alive at the deadline (empty: all gone)."""
    left = set(pids)
    deadline = time.monotonic() + timeout_s
    while True:
        left = {p for p in left if alive(p)}
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def status_kib(pid: int, key: str) -> int | None:
    """A memory figure of ``/proc/<pid>/status`` in KiB: ``VmRSS`` (resident now), ``VmHWM`` (its peak)."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def kill_if_alive(pid: int, sig: int) -> None:
    """Signal one process this test started, by pid, if it is still there."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)

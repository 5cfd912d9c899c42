"""Child processes of a run: start with a log file each, watch, stop by PID, report the last log lines.

Children get their own session, so a Ctrl-C in the terminal reaches only ``ingestbench run``, which then
stops them in order (load first, then the probe so it can drain, then the target), each with what it left in
its process group. Nothing else is touched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestbench.records.process import die_with_parent

log = logging.getLogger("ingestbench.orchestrate.run")


def stop_process(proc: subprocess.Popen[Any], *, sig: int = signal.SIGTERM, grace_s: float = 10.0) -> int:
    """Stop one process we started, by its PID: ``sig``, up to ``grace_s`` to exit, then SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            log.warning("pid %d did not stop within %.0f s; killing it", proc.pid, grace_s)
            proc.kill()
            proc.wait(timeout=10)
    return int(proc.returncode)


def stop_group(pgid: int, *, grace_s: float = 5.0) -> None:
    """Stop what is left of a child's process group (its own session: ``pgid`` is the child's pid).

    A child that forks (Locust with ``--processes`` forks its workers) can die without taking its own
    children along: ``kill -9`` of the Locust master left its workers running until they missed the master's
    heartbeat for a minute. They share the child's process group, so the group gets SIGTERM, up to
    ``grace_s`` to go, then SIGKILL. The kernel keeps a pid in use as a group id from being reused while the
    group has members, so this reaches nothing but what the child started.
    """
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)
    log.warning("process group %d did not stop within %.0f s; killing it", pgid, grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass
class Child:
    name: str
    cmd: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    ok_exit_codes: tuple[int, ...] = (0,)
    proc: subprocess.Popen[bytes] | None = None
    started_s: float = 0.0
    stopping: bool = False

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env={**os.environ, **self.env}, start_new_session=True,
                                         preexec_fn=die_with_parent)
        self.started_s = time.monotonic()
        log.debug("started %s (pid %d): %s", self.name, self.proc.pid, " ".join(self.cmd))

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def poll(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def died(self) -> bool:
        """Exited on its own with an exit code it should not have."""
        code = self.poll()
        return code is not None and not self.stopping and code not in self.ok_exit_codes

    def send(self, sig: int) -> None:
        if self.running:
            assert self.proc is not None
            self.stopping = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)

    def stop(self, *, sig: int = signal.SIGTERM, grace_s: float = 10.0) -> int | None:
        """Signal, wait ``grace_s``, then SIGKILL (by PID) if still there; then stop whatever the child
        started and left behind in its process group (:func:`stop_group`)."""
        if self.proc is None:
            return None
        if self.running:
            self.stopping = True
        code = stop_process(self.proc, sig=sig, grace_s=grace_s)
        stop_group(self.proc.pid, grace_s=grace_s)
        return code

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

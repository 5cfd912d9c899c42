"""A CPU hog for tests: one busy process per core, at real-time priority where allowed, for a bounded time.

Real-time (``SCHED_FIFO``) busy loops take their cores from every ordinary process, so the run under test
stalls as a process descheduled by a busy machine does; the kernel's real-time throttling still leaves ordinary
processes 5 % of each second, and each hog stops by itself at its deadline. Without the permission (not root)
the hogs run at the highest ordinary priority instead (``nice -20``, or as they are), and say which.
"""

from __future__ import annotations

import os
import subprocess
import sys

_HOG = """
import os, sys, time
cpu, seconds = int(sys.argv[1]), float(sys.argv[2])
os.sched_setaffinity(0, {cpu})
how = "fifo"
try:
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
except OSError:
    try:
        os.nice(-20)
        how = "nice"
    except OSError:
        how = "plain"
print(how, flush=True)
end = time.monotonic() + seconds
while time.monotonic() < end:
    pass
"""


def hog(seconds: float) -> list[str]:
    """Busy every core for ``seconds`` (returns when the hogs are done): how each hog was scheduled."""
    procs = [subprocess.Popen([sys.executable, "-c", _HOG, str(cpu), str(seconds)], stdout=subprocess.PIPE,
                              text=True) for cpu in sorted(os.sched_getaffinity(0))]
    try:
        return [p.communicate(timeout=seconds + 30)[0].strip() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

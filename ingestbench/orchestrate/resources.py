"""Sampling what the system under test itself uses, once a second, from ``/proc`` and cgroup v2 files.

A process target is a PID and its descendants (found through ``/proc/PID/task/*/children``): each sample
reads ``/proc/PID/stat`` of each (CPU ticks, RSS pages) and ``/proc/PID/smaps_rollup`` (PSS) where it is
readable. CPU is counted per process between two samples of the same process (a process that appeared since
the last sample counts from its start; one that exited loses its last partial second). A cgroup target
reads ``memory.current`` and ``cpu.stat``'s ``usage_usec`` of its directory.

The sampler runs in a thread of its own, so the supervisor's loop never waits on it; it records the CPU
time it used itself and its slowest round (``run.json``: ``resources.sampler_cpu_s``, ``sample_ms_max``).

    sampler = ResourceSampler(interval_s=1.0)
    sampler.watch_pid("pipeline", pid)
    sampler.start()
    ...
    resources = sampler.stop()  # a records.resources.Resources
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingestbench.records.config import ConfigError
from ingestbench.records.resources import CGROUP_MEMORY, RSS, Resources, TargetUsage

CGROUP_ROOT = Path("/sys/fs/cgroup")
MIB = 1024 * 1024
_TICK = float(os.sysconf("SC_CLK_TCK"))
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    start_ticks: int  # with the pid, tells a process from a later one that reuses its pid
    cpu_s: float  # user + system
    rss_bytes: int


def read_stat(pid: int) -> ProcStat | None:
    """``/proc/PID/stat`` of one process; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2:].split()  # after "pid (comm) ": comm may hold spaces and parentheses
    return ProcStat(pid=pid, ppid=int(fields[1]), start_ticks=int(fields[19]),
                    cpu_s=(int(fields[11]) + int(fields[12])) / _TICK, rss_bytes=int(fields[21]) * _PAGE)


def read_pss_bytes(pid: int) -> int | None:
    """The process's proportional set size from ``/proc/PID/smaps_rollup``; None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, through the kernel's per-thread ``children`` lists."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{p}/task/{tid}/children", "rb") as fh:
                    todo += [int(c) for c in fh.read().split()]
            except OSError:
                continue
    return out


def cgroup_dir(path: str) -> Path:
    """A cgroup v2 directory: absolute, or relative to /sys/fs/cgroup; it must have ``memory.current`` or
    ``cpu.stat``."""
    p = Path(path) if Path(path).is_absolute() else CGROUP_ROOT / path.lstrip("/")
    if not ((p / "memory.current").is_file() or (p / "cpu.stat").is_file()):
        raise ConfigError(f"--observe-cgroup: {path}: not a cgroup v2 directory with memory.current or cpu.stat "
                          f"({p})")
    return p


def check_pid(pid: int) -> None:
    if pid <= 0 or read_stat(pid) is None:
        raise ConfigError(f"--observe-pid: no process {pid} on this machine")


@dataclass
class _Series:
    name: str
    source: str
    memory: str
    t_s: list[float] = field(default_factory=list)
    cpu_cores: list[float | None] = field(default_factory=list)
    rss_mib: list[float | None] = field(default_factory=list)
    pss_mib: list[float | None] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)
    cpu_s: float = 0.0
    problems: list[str] = field(default_factory=list)
    last_t: float | None = None

    def add(self, t: float, cpu_delta_s: float | None, rss: int | None, pss: int | None, processes: int) -> None:
        cores = None
        if cpu_delta_s is not None and self.last_t is not None and t > self.last_t:
            cores = round(cpu_delta_s / (t - self.last_t), 3)
            self.cpu_s += cpu_delta_s
        self.last_t = t
        self.t_s.append(round(t, 3))
        self.cpu_cores.append(cores)
        self.rss_mib.append(None if rss is None else round(rss / MIB, 1))
        self.pss_mib.append(None if pss is None else round(pss / MIB, 1))
        self.processes.append(processes)

    def usage(self) -> TargetUsage:
        return TargetUsage(name=self.name, source=self.source, memory=self.memory, t_s=tuple(self.t_s),
                           cpu_cores=tuple(self.cpu_cores), rss_mib=tuple(self.rss_mib), pss_mib=tuple(self.pss_mib),
                           processes=tuple(self.processes), cpu_s=round(self.cpu_s, 3), problems=tuple(self.problems))


class _ProcessTree:
    def __init__(self, name: str, pid: int):
        self.pid = pid
        self.series = _Series(name, f"pid {pid} and its descendants", RSS)
        self.seen: dict[int, tuple[int, float]] = {}  # pid -> (start ticks, CPU s at the last sample)
        self.gone = False

    def sample(self, t: float, *, first: bool) -> None:
        if self.gone:
            return
        stats = [s for s in (read_stat(p) for p in descendants(self.pid)) if s is not None]
        if not stats or stats[0].pid != self.pid:
            self.gone = True
            self.series.problems.append(f"pid {self.pid} exited {t:.0f} s into the sampling")
            return
        delta, seen = 0.0, {}
        for s in stats:
            before = self.seen.get(s.pid)
            delta += s.cpu_s - (before[1] if before is not None and before[0] == s.start_ticks else 0.0)
            seen[s.pid] = (s.start_ticks, s.cpu_s)
        self.seen = seen
        pss = [read_pss_bytes(s.pid) for s in stats]
        total_pss = None if any(p is None for p in pss) else sum(p for p in pss if p is not None)
        self.series.add(t, None if first else max(0.0, delta), sum(s.rss_bytes for s in stats), total_pss,
                        len(stats))


class _Cgroup:
    def __init__(self, path: Path):
        self.path = path
        self.series = _Series(f"cgroup {path.name}", f"cgroup {path}", CGROUP_MEMORY)
        self.last_usec: int | None = None
        self.gone = False

    def sample(self, t: float, *, first: bool) -> None:
        if self.gone:
            return
        try:  # either file may be missing where its controller is not enabled for this cgroup
            memory = _number(self.path / "memory.current")
            usec = _usage_usec(self.path / "cpu.stat")
            procs = len((self.path / "cgroup.procs").read_text().split())
        except (OSError, ValueError) as exc:
            self.gone = True
            self.series.problems.append(f"cgroup {self.path} could not be read {t:.0f} s into the sampling ({exc})")
            return
        delta = None if self.last_usec is None or usec is None else (usec - self.last_usec) / 1e6
        self.last_usec = usec
        self.series.add(t, delta, memory, None, procs)


def _number(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except FileNotFoundError:
        return None


def _usage_usec(path: Path) -> int | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return next((int(line.split()[1]) for line in text.splitlines() if line.startswith("usage_usec ")), None)


class ResourceSampler:
    """Samples every watched target each ``interval_s`` in a daemon thread, until :meth:`stop`."""

    def __init__(self, interval_s: float = 1.0):
        self.interval_s = interval_s
        self._targets: list[_ProcessTree | _Cgroup] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_unix_s: float | None = None
        self._cpu_s = 0.0
        self._slowest_s = 0.0
        self.rounds = 0  # rounds of samples taken so far

    def watch_pid(self, name: str, pid: int) -> None:
        self._targets.append(_ProcessTree(name, pid))

    def watch_cgroup(self, path: str) -> None:
        self._targets.append(_Cgroup(cgroup_dir(path)))

    @property
    def watching(self) -> bool:
        return bool(self._targets)

    def start(self) -> None:
        if self._thread is not None or not self._targets:
            return
        self._started_unix_s = time.time()
        self._thread = threading.Thread(target=self._loop, name="resource-sampler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        t0 = time.monotonic()
        first = True
        while True:
            began = time.monotonic()
            for target in self._targets:
                target.sample(began - t0, first=first)
            self._slowest_s = max(self._slowest_s, time.monotonic() - began)
            self._cpu_s = time.thread_time()
            self.rounds += 1
            first = False
            if self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - began))):
                break

    def stop(self) -> Resources | None:
        """Stop sampling (at once) and hand back the series; None when nothing was watched."""
        if not self._targets:
            return None
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        return Resources(interval_s=self.interval_s, started_unix_s=self._started_unix_s,
                         targets=tuple(t.series.usage() for t in self._targets), sampler_cpu_s=round(self._cpu_s, 4),
                         sample_ms_max=round(self._slowest_s * 1000, 2))

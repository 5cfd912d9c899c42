"""Helpers for ``benchmarks/scaleout.py``: the counting sink, CPU from ``/proc``, a sampler, timeline parsing.

CPU per process is ``utime + stime (+ children's)`` from ``/proc/<pid>/stat`` (the method of
docs/performance.md, "CPU per request"); the machine's busy share is from ``/proc/stat``. The steady window runs
from 2 s after the first request reached the sink to 1 s before the load ends.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestbench.orchestrate.children import stop_process

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
WARMUP_S, TAIL_S = 2.0, 1.0


def sink_count(host: str) -> int:
    with urllib.request.urlopen(host + "/__count", timeout=5) as resp:
        return int(json.loads(resp.read())["requests"])


def start_sink(port: int, prefix: list[str] | None = None) -> subprocess.Popen[bytes]:
    """The counting 204 sink on ``port``, once it answers; ``prefix`` runs it under e.g. ``taskset``."""
    proc = subprocess.Popen([*(prefix or []), sys.executable, str(ROOT / "benchmarks" / "bare204.py"), "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            sink_count(f"http://127.0.0.1:{port}")
            return proc
        except OSError:
            time.sleep(0.1)
    stop_process(proc)  # type: ignore[arg-type]
    raise RuntimeError("the sink did not start within 15 s")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def peak_rss_mib(pid: int) -> float | None:
    """The process's resident-memory high-water mark (``VmHWM``), MiB; None while it has none (exiting, exec)."""
    line = next((x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmHWM:")), None)
    return None if line is None else int(line.split()[1]) / 1024


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


@dataclass
class Sample:
    t: float  # time.time(), to place the window against the timeline's wall clock
    cpu: dict[int, float]  # pid -> CPU seconds so far
    count: int  # requests the sink counted so far
    busy: int
    total: int


@dataclass
class Sampler:
    """Samples the given processes' CPU, the sink's count and the machine every 0.1 s in a thread."""

    host: str
    pids: list[int]
    samples: list[Sample] = field(default_factory=list)
    peak_rss: dict[int, float | None] = field(default_factory=dict)  # pid -> MiB, the last high-water mark read
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                cpu = {pid: cpu_seconds(pid) for pid in self.pids}
                for pid in self.pids:
                    self.peak_rss[pid] = peak_rss_mib(pid) or self.peak_rss.get(pid) or 0.0
                count = sink_count(self.host)
            except OSError:  # a process ended (its /proc entry is gone) or the sink did not answer in time
                self._stop.wait(0.1)
                continue
            self.samples.append(Sample(time.time(), cpu, count, *machine_ticks()))
            self._stop.wait(0.1)

    def describe(self, start_unix: float | None) -> str:
        """Why there is no window: how many samples, and when, relative to the load's start."""
        if not self.samples:
            return "no samples"
        base = start_unix or self.samples[0].t
        first, last = self.samples[0].t - base, self.samples[-1].t - base
        return f"{len(self.samples)} samples from {first:+.1f} s to {last:+.1f} s after the load started"

    def steady(self, seconds: float, start_unix: float | None) -> tuple[Sample, Sample] | None:
        """The samples nearest the steady window's ends: 2 s after the load started (``start_unix``, from the
        timeline; else when the first request arrived) to 1 s before it ended (``seconds`` later)."""
        if start_unix is None:
            first = next((s for s in self.samples if s.count > self.samples[0].count), None) if self.samples else None
            if first is None:
                return None
            start_unix = first.t
        a_t, b_t = start_unix + WARMUP_S, start_unix + seconds - TAIL_S
        inside = [s for s in self.samples if a_t - 0.5 <= s.t <= b_t + 0.5]
        if not inside:
            return None
        a = min(inside, key=lambda s: abs(s.t - a_t))
        b = min(inside, key=lambda s: abs(s.t - b_t))
        return (a, b) if b.t - a.t > 1.0 else None


def settle(host: str, quiet_s: float = 2.0, timeout_s: float = 30.0) -> int:
    """Wait until the sink's count has not moved for ``quiet_s`` (requests of an earlier run still queued in
    its sockets are counted before the next run starts); the count then."""
    deadline = time.monotonic() + timeout_s
    last, since = sink_count(host), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = sink_count(host)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return last


def load_start(secs: list[dict[str, Any]]) -> float | None:
    """Wall-clock start of the schedule: the ``t_s = 0`` second line ends at its ``unix_s``."""
    first = next((s for s in secs if s.get("t_s") == 0 and s.get("unix_s")), None)
    return None if first is None else float(first["unix_s"]) - 1.0


def timeline(path: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]]]:
    """(the step line, the generator lines, the second lines) of a one-step rates file."""
    rows = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
    step = next((r for r in rows if r["type"] == "step"), None)
    return (step, [r for r in rows if r["type"] == "generator"], [r for r in rows if r["type"] == "second"])


def scenario(work: Path, name: str, rate: int, batch: int, seconds: float) -> Path:
    path = work / f"{name}.toml"
    path.write_text(f"[load]\nbatch_size = {batch}\nseed = 3\n"
                    f"steps = [{{rate_eps = {rate}, duration_s = {seconds}}}]\n")
    return path


def median(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return statistics.median(got) if got else None

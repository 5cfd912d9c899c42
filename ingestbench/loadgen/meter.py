"""Meter: what one generator process did, binned by (second since t0, step), ready to ship to the master.

Counts events sent, acknowledged (``ok``), failed by kind and dropped (too late to send), the request
latency sum and the peak number of requests in flight (for sizing the user pool), schedule lag in a
mergeable HDR histogram (µs), the share of a core the generator process used (``cpu``: a process near
1.0 is CPU-bound, and its lag is its own, not the target's) and the busy share of its whole machine
(``host_cpu``: near 1.0 nothing on that machine, a co-located target included, has CPU to spare), and how long
the process stood still (``paused_s``: the most a short timer overslept in the second; a process descheduled
by a busy machine, stopped, or blocked in a long collection oversleeps; one waiting on a slow target does not).
A bin's second is where the thing happened: a send when it started, an acknowledgement when it arrived.
Completed seconds are drained as plain dicts (the wire format of the ``ingestbench_stats`` message)::

    m = Meter(schedule, t0_s=t0)
    m.record_start(now, step=0, events=10, lag_s=0.0004)
    m.record_result(now + 0.002, events=10, kind="ok", latency_s=0.002)
    bins, upto_s = m.drain(now + 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from ingestbench.loadgen.schedule import RateSchedule

LAG_MAX_US = 60_000_000
TAIL_STEP = -1  # completions after the schedule ended


def host_cpu_times(path: str = "/proc/stat") -> tuple[float, float] | None:
    """The whole machine's (busy, total) CPU time in clock ticks since boot; None where it cannot be read."""
    try:
        with open(path, encoding="ascii") as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 5:
        return None
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest time is inside user)
    return total - fields[3] - fields[4], total


def new_lag_histogram() -> HdrHistogram:
    """Schedule lag in µs, 1 µs .. 60 s, 2 significant digits (1 % resolution)."""
    return HdrHistogram(1, LAG_MAX_US, 2)


def lag_histogram(lags_s: list[float]) -> HdrHistogram:
    """The histogram of many lags at once, in µs (clamped to 1 µs .. 60 s).

    Recording one value costs ~3.5 µs of Python, too much per request; here the values are first rounded
    down to their histogram bucket's lowest value (with 2 significant digits a bucket holds 256 sub-buckets,
    so values with ``b > 8`` bits keep their top 8 bits: the same bucket, nothing lost), then each distinct
    value is recorded once with its count.
    """
    hist = new_lag_histogram()
    if not lags_s:
        return hist
    us = np.clip(np.rint(np.asarray(lags_s, dtype=np.float64) * 1e6), 1, LAG_MAX_US).astype(np.int64)
    shift = np.maximum(np.frexp(us.astype(np.float64))[1] - 8, 0)  # frexp's exponent is the bit length
    values, counts = np.unique((us >> shift) << shift, return_counts=True)
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        hist.record_value(value, count)
    return hist


@dataclass
class Bin:
    """Counters for one (second, step)."""

    sent_events: int = 0
    requests: int = 0
    ok_events: int = 0
    failed_by_kind: dict[str, int] = field(default_factory=dict)
    dropped_events: int = 0
    latency_sum_s: float = 0.0
    latency_count: int = 0
    inflight_peak: int = 0
    lags_s: list[float] = field(default_factory=list)  # raw, turned into a histogram when drained

    def to_wire(self, second: int, step: int, cpu: tuple[float, float | None] | None = None,
                paused_s: float = 0.0) -> dict[str, Any]:
        return {"sec": second, "step": step, "sent": self.sent_events, "req": self.requests,
                "ok": self.ok_events, "failed": dict(self.failed_by_kind), "dropped": self.dropped_events,
                "lat_sum_s": self.latency_sum_s, "lat_n": self.latency_count, "busy": self.inflight_peak,
                "lag": lag_histogram(self.lags_s).encode().decode("ascii") if self.lags_s else "",
                "cpu": None if cpu is None else round(cpu[0], 3),
                "host_cpu": None if cpu is None or cpu[1] is None else round(cpu[1], 3),
                "paused_s": round(paused_s, 4)}


class Meter:
    """Per-process counters binned by (second since ``t0_s``, step); see the module docstring."""

    def __init__(self, schedule: RateSchedule, *, t0_s: float):
        self.schedule = schedule
        self.t0_s = t0_s
        self._bins: dict[tuple[int, int], Bin] = {}
        self.inflight = 0  # requests started and not yet answered: the busy part of the user pool
        self._cpu: dict[int, tuple[float, float | None]] = {}  # second -> highest (process, host) shares
        self._paused: dict[int, float] = {}  # second -> the longest the process stood still in it
        self._cpu_mark: tuple[float, float, tuple[float, float] | None] | None = None

    def _bin(self, t_s: float, step: int | None = None) -> Bin:
        offset = t_s - self.t0_s
        if step is None:
            found = self.schedule.step_at(offset)
            step = TAIL_STEP if found is None else found
        key = (int(offset) if offset > 0 else 0, step)
        b = self._bins.get(key)
        if b is None:
            b = self._bins[key] = Bin()
        return b

    def record_start(self, t_s: float, *, step: int, events: int, lag_s: float) -> None:
        """A request of ``events`` for ``step`` started at ``t_s``, ``lag_s`` after it was due."""
        b = self._bin(t_s, step)
        b.sent_events += events
        b.requests += 1
        self.inflight += 1
        if self.inflight > b.inflight_peak:
            b.inflight_peak = self.inflight
        b.lags_s.append(lag_s)

    def record_result(self, t_s: float, *, events: int, kind: str, latency_s: float) -> None:
        """A response arrived at ``t_s``; ``kind`` is ``ok`` or a failure kind."""
        b = self._bin(t_s)
        self.inflight -= 1
        if kind == "ok":
            b.ok_events += events
        else:
            b.failed_by_kind[kind] = b.failed_by_kind.get(kind, 0) + events
        b.latency_sum_s += latency_s
        b.latency_count += 1

    def record_dropped(self, t_s: float, *, events: int) -> None:
        self._bin(t_s).dropped_events += events

    def note_cpu(self, t_s: float, cpu_s: float, host: tuple[float, float] | None = None) -> None:
        """By ``t_s`` the process had used ``cpu_s`` CPU seconds and the machine ``host = (busy, total)`` CPU
        time (any unit; None if unknown). The shares since the previous note go to every second that
        interval touched (the highest shares when several intervals touch one)."""
        mark = self._cpu_mark
        if mark is not None and t_s > mark[0]:
            since, used, host_before = mark
            share = max(0.0, cpu_s - used) / (t_s - since)
            host_share = None
            if host is not None and host_before is not None and host[1] > host_before[1]:
                host_share = max(0.0, host[0] - host_before[0]) / (host[1] - host_before[1])
            first, last = (max(0, math.floor(x - self.t0_s)) for x in (since, t_s))
            for s in range(first, last + 1):
                old_share, old_host = self._cpu.get(s, (0.0, None))
                merged_host = host_share if old_host is None else max(old_host, host_share or 0.0)
                self._cpu[s] = (max(old_share, share), merged_host)
        self._cpu_mark = (t_s, cpu_s, host)

    def note_pause(self, t_s: float, paused_s: float) -> None:
        """The process stood still for ``paused_s`` until ``t_s`` (a timer overslept by that much)."""
        self._bin(t_s)  # the second is reported even if nothing else happened in it
        second = max(0, math.floor(t_s - self.t0_s))
        self._paused[second] = max(self._paused.get(second, 0.0), paused_s)

    def drain(self, now_s: float, *, final: bool = False) -> tuple[list[dict[str, Any]], int]:
        """Wire dicts of every completed second (all seconds when ``final``) and the exclusive bound."""
        upto = 2**31 if final else max(0, math.floor(now_s - self.t0_s))
        keys = sorted(k for k in self._bins if k[0] < upto)
        out = [self._bins.pop(k).to_wire(*k, cpu=self._cpu.get(k[0]), paused_s=self._paused.get(k[0], 0.0))
               for k in keys]
        for s in [s for s in self._cpu if s < upto]:  # every bin of those seconds has been drained
            del self._cpu[s]
        for s in [s for s in self._paused if s < upto]:
            del self._paused[s]
        return out, upto

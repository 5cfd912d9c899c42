"""Rate timeline: the master merges every generator's per-second bins into one row per second and judges steps.

JSON lines format (``--rates-out PATH``; one object per line, flushed after each line):

* one ``"type": "second"`` line per elapsed second of the schedule, in order, written once every generator
  has reported that second (or 3 s after it ended)::

    {"type": "second", "t_s": 12, "unix_s": 1718000013.52, "target_eps": 1100.0, "achieved_eps": 1098.0,
     "sent_events": 1100, "failed_events": 0, "failed_by_kind": {}, "dropped_events": 0,
     "lag_p50_s": 0.00021, "lag_p99_s": 0.0012, "latency_mean_s": 0.0011, "inflight_peak": 4,
     "generator_cpu": 0.41, "host_cpu": 0.63, "step": 3, "valid": null, "stalled": false}

  ``t_s`` is whole seconds since the schedule started (the row covers ``[t_s, t_s + 1)``); ``unix_s`` is the
  wall clock (``time.time()``) at the *end* of that second. ``target_eps`` is the events due in the second,
  ``achieved_eps`` the events acknowledged by the target in it, ``sent_events`` the events whose request
  started in it; failures are counted when their response (or error) came back. ``lag_*`` are schedule-lag
  quantiles of the requests started in the second (null if none), ``latency_mean_s`` the mean response time
  of the requests answered in it (null if none) and ``inflight_peak`` the most requests in flight at once
  (summed over generators; the user pool must exceed it). ``generator_cpu`` is the highest share of a core
  any generator process used in the second (null if not measured): near 1.0, the generator itself is the
  bottleneck. ``host_cpu`` is the busy share of the busiest generator's whole machine: near 1.0, that
  machine (and a target running on it) has no CPU to spare. ``step`` is the step running at ``t_s``;
  ``valid`` is null while that step is in progress and its check (true/false) on the step's last second;
  that check is provisional: the step line, written at the end, judges the step again on complete
  totals, counting requests of the step that started (late) after it ended. ``stalled`` is true when the
  second's lag p99 exceeds the lag bound: the generator fell behind its schedule (a pause of the process, a
  busy machine); the judge does not take the TTA of canaries sent then (:mod:`ingestbench.loadgen.step_check`).

* after the last second, one ``"type": "step"`` line per step::

    {"type": "step", "step": 3, "start_s": 30.0, "end_s": 40.0, "target_eps": 1100.0,
     "achieved_eps": 1099.2, "sent_events": 11000, "failed_events": 0, "dropped_events": 0,
     "lag_p50_s": 0.0002, "lag_p99_s": 0.0013, "generator_cpu_peak": 0.45, "host_cpu_peak": 0.7, "valid": true,
     "reason": "achieved ...", "stalled_s": 0, "allowed_stalled_s": 2.5}

  A step's ``achieved_eps`` is the events acknowledged while the step ran divided by its duration.

* then one ``"type": "generator"`` line per generator process (:class:`~ingestbench.records.timeline.GeneratorRow`)::

    {"type": "generator", "id": "host-a_3f2c...", "sent_events": 5500, "ok_events": 5500, "failed_events": 0,
     "dropped_events": 0, "achieved_eps": 166.7, "seconds": 33, "cpu_mean": 0.21, "cpu_peak": 0.35,
     "lost_at_s": null}

  ``lost_at_s`` is the schedule offset at which the generator vanished without handing its share over.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from hdrh.histogram import HdrHistogram

from ingestbench.loadgen.generators import GeneratorTally
from ingestbench.loadgen.meter import TAIL_STEP, new_lag_histogram
from ingestbench.loadgen.schedule import RateSchedule
from ingestbench.loadgen.step_check import StepCheck, allowed_stall_s, check_step
from ingestbench.records.load import LoadConfig
from ingestbench.records.timeline import SecondRow, StepRow

REPORT_GRACE_S = 3.0
LATENCY_WINDOW = 10  # seconds of per-second mean latency behind recent_latency_s


class TimelineSink(Protocol):
    def second(self, row: dict[str, Any], lag_us: HdrHistogram) -> None: ...

    def step(self, row: dict[str, Any]) -> None: ...

    def generator(self, row: dict[str, Any]) -> None: ...


@dataclass
class _Totals:
    sent: int = 0
    ok: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    lat_sum_s: float = 0.0
    lat_n: int = 0
    busy: int = 0
    cpu: float | None = None  # the highest share of a core any generator process used
    host_cpu: float | None = None  # the busiest generator machine's busy share
    lag_us: HdrHistogram = field(default_factory=new_lag_histogram)
    # the lag of requests started while their generator was not paused: what a pause cannot explain
    unpaused_lag_us: HdrHistogram = field(default_factory=new_lag_histogram)
    paused_s: float = 0.0  # the longest any generator process stood still

    def add(self, b: dict[str, Any], lag: HdrHistogram | None, pause_s: float = math.inf) -> None:
        """Add one generator's bin; its lag counts as unpaused unless that process stood still ``pause_s``."""
        self.sent += b["sent"]
        self.ok += b["ok"]
        for kind, n in b["failed"].items():
            self.failed[kind] = self.failed.get(kind, 0) + n
        self.dropped += b["dropped"]
        self.lat_sum_s += b["lat_sum_s"]
        self.lat_n += b["lat_n"]
        self.busy += b.get("busy", 0)
        if b.get("cpu") is not None:
            self.cpu = max(self.cpu or 0.0, b["cpu"])
        if b.get("host_cpu") is not None:
            self.host_cpu = max(self.host_cpu or 0.0, b["host_cpu"])
        paused = float(b.get("paused_s") or 0.0)
        self.paused_s = max(self.paused_s, paused)
        if lag is not None:
            self.lag_us.add(lag)
            if paused < pause_s:
                self.unpaused_lag_us.add(lag)

    def lag_s(self, percentile: float, *, unpaused: bool = False) -> float | None:
        hist = self.unpaused_lag_us if unpaused else self.lag_us
        if not hist.get_total_count():
            return None
        return float(hist.get_value_at_percentile(percentile)) / 1e6


class RateMerger:
    """Merges generator reports into per-second rows and per-step validity checks; see the module docstring."""

    def __init__(self, schedule: RateSchedule, *, t0_unix_s: float, sinks: Sequence[TimelineSink] = (),
                 lag_bound_s: float = LoadConfig.lag_bound_s,
                 min_achieved_ratio: float = LoadConfig.min_achieved_ratio,
                 max_stall_share: float = LoadConfig.max_stall_share, max_behind_s: float = LoadConfig.max_behind_s,
                 batch_size: int = LoadConfig.batch_size, regimes: Sequence[int | None] = ()):
        self.schedule = schedule
        self.batch_size = batch_size
        self.regimes = tuple(regimes)  # per step: its continuous shape (LoadConfig.regimes), written per second
        self.t0_unix_s = t0_unix_s
        self.sinks = list(sinks)
        self.lag_bound_s = lag_bound_s
        self.min_achieved_ratio = min_achieved_ratio
        self.max_stall_share = max_stall_share
        self.max_behind_s = max_behind_s
        self.pause_s = lag_bound_s / 2  # a process that stood still this long was paused
        self.seconds = math.ceil(schedule.duration_s - 1e-9)
        self.next_second = 0
        self.checks: dict[int, StepCheck] = {}
        self.recent_latency_s: float | None = None
        self._latencies: list[float] = []
        self.recent_lag_p99_s: float | None = None
        self.recent_busy = 0  # peak requests in flight, summed over generators, in the last second
        self.recent_cpu: float | None = None  # the busiest generator's share of a core in the last second
        self.recent_host_cpu: float | None = None  # the busiest generator machine's busy share, last second
        self._pending: dict[int, list[tuple[dict[str, Any], HdrHistogram | None]]] = {}
        self._upto: dict[str, int] = {}
        self._steps = [_Totals() for _ in schedule.segments]
        self._stalled = [0 for _ in schedule.segments]  # stalled seconds per step
        self._finished = False
        self._stopped_at_s: float | None = None
        self.generators = GeneratorTally()

    def set_workers(self, worker_ids: Iterable[str]) -> None:
        """The generators whose reports a second waits for (joined ones start at 0, left ones are forgotten)."""
        ids = set(worker_ids)
        self._upto = {w: self._upto.get(w, 0) for w in ids}

    def add(self, worker_id: str, bins: Iterable[dict[str, Any]], upto_s: int) -> None:
        """One ``ingestbench_stats`` report: bins of completed seconds, all seconds ``< upto_s`` are final."""
        bins = list(bins)
        self.generators.add(worker_id, bins)
        for b in bins:
            lag = HdrHistogram.decode(b["lag"]) if b["lag"] else None
            self._pending.setdefault(int(b["sec"]), []).append((b, lag))
        if worker_id in self._upto:
            self._upto[worker_id] = max(self._upto[worker_id], upto_s)

    def flush(self, now_offset_s: float) -> None:
        """Write every second that is complete: all generators reported it, or it ended long enough ago."""
        ready_upto = min(self._upto.values()) if self._upto else 0
        while self.next_second < self.seconds and (
            self.next_second < ready_upto or now_offset_s >= self.next_second + 1 + REPORT_GRACE_S
        ):
            self._write_second(self.next_second)

    def finish(self, now_offset_s: float) -> list[StepCheck]:
        """Write the remaining seconds and one line per step; returns the step checks (idempotent)."""
        if not self._finished:
            self._finished = True
            self._stopped_at_s = now_offset_s
            while self.next_second < min(self.seconds, math.ceil(now_offset_s - 1e-9)):
                self._write_second(self.next_second)
            for s in sorted(self._pending):  # e.g. the last step's last requests, started after the schedule
                for b, lag in self._pending.pop(s):
                    self._add_to_step(b, lag)
            for i in range(len(self.schedule.segments)):
                # judged again on complete totals: a step's last requests may start (late) after it ended
                self._judge(i, completed=now_offset_s >= self.schedule.step_bounds(i)[1] - 1e-6)
                start_s, end_s = self.schedule.step_bounds(i)
                row = StepRow(start_s=start_s, end_s=end_s, **asdict(self.checks[i])).to_dict()
                for sink in self.sinks:
                    sink.step(row)
            for generator in self.generators.rows():
                for sink in self.sinks:
                    sink.generator(generator.to_dict())
        return [self.checks[i] for i in range(len(self.schedule.segments))]

    def _write_second(self, s: int) -> None:
        total = _Totals()
        for b, lag in self._pending.pop(s, []):
            total.add(b, lag, self.pause_s)
            self._add_to_step(b, lag)
        step = self.schedule.step_at(float(s))
        if total.lat_n:
            # The median of the last LATENCY_WINDOW seconds' mean latency, not the peak: the user pool never
            # shrinks, so one episode of queueing (say, new connections at a step's start) would size it for
            # good, and a pool grown on it adds connections to a target that is already the bottleneck.
            self._latencies = [*self._latencies, total.lat_sum_s / total.lat_n][-LATENCY_WINDOW:]
            self.recent_latency_s = statistics.median(self._latencies)
        self.recent_lag_p99_s = total.lag_s(99.0)
        stalled = (self.recent_lag_p99_s is not None and self.recent_lag_p99_s > self.lag_bound_s
                   and total.paused_s >= self.pause_s)
        if stalled and step is not None:
            self._stalled[step] += 1
        self.recent_busy = total.busy
        self.recent_cpu = total.cpu
        self.recent_host_cpu = total.host_cpu
        for i in range(len(self.schedule.segments)):
            end_s = self.schedule.step_bounds(i)[1]
            if i not in self.checks and math.ceil(end_s - 1e-9) <= s + 1:
                self._judge(i, completed=self._stopped_at_s is None or self._stopped_at_s >= end_s - 1e-6)
        check = self.checks.get(step) if step is not None else None
        row = SecondRow(
            t_s=s, unix_s=round(self.t0_unix_s + s + 1, 3),
            target_eps=round(self.schedule.events_until(s + 1.0) - self.schedule.events_until(float(s)), 3),
            achieved_eps=float(total.ok), sent_events=total.sent, failed_events=sum(total.failed.values()),
            failed_by_kind=total.failed, dropped_events=total.dropped, lag_p50_s=total.lag_s(50.0),
            lag_p99_s=total.lag_s(99.0),
            latency_mean_s=round(total.lat_sum_s / total.lat_n, 6) if total.lat_n else None,
            inflight_peak=total.busy, generator_cpu=total.cpu, host_cpu=total.host_cpu, step=step,
            valid=None if check is None else check.valid, stalled=stalled, paused_s=round(total.paused_s, 4),
            regime=self.regimes[step] if step is not None and step < len(self.regimes) else None,
        ).to_dict()
        self.next_second = s + 1
        for sink in self.sinks:
            sink.second(row, total.lag_us)

    def _add_to_step(self, b: dict[str, Any], lag: HdrHistogram | None) -> None:
        if b["step"] != TAIL_STEP and 0 <= b["step"] < len(self._steps):
            self._steps[b["step"]].add(b, lag, self.pause_s)

    def _judge(self, i: int, *, completed: bool) -> None:
        start_s, end_s = self.schedule.step_bounds(i)
        t = self._steps[i]
        duration_s = end_s - start_s
        self.checks[i] = check_step(
            step=i, target_eps=self.schedule.segments[i].events / duration_s, achieved_eps=t.ok / duration_s,
            lag_p50_s=t.lag_s(50.0), lag_p99_s=t.lag_s(99.0), unpaused_lag_p99_s=t.lag_s(99.0, unpaused=True),
            sent_events=t.sent, failed_by_kind=t.failed,
            dropped_events=t.dropped, min_achieved_ratio=self.min_achieved_ratio, lag_bound_s=self.lag_bound_s,
            stalled_s=self._stalled[i],
            allowed_stalled_s=allowed_stall_s(duration_s, share=self.max_stall_share, max_behind_s=self.max_behind_s),
            completed=completed, generator_cpu=t.cpu, host_cpu=t.host_cpu,
            slack_eps=self.batch_size / duration_s,  # a step's count is whole requests: within one batch
        )

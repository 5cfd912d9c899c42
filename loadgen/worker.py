"""The generator side of a Locust process (local runner or worker): plan in, pacing state, reports out.

The master sends an ``ingestbench_plan`` message (start time on the wall clock, this worker's share, the
``[load]`` table, time scale, target kind and options): the plan is the single source of truth, so a ``--worker``
started with other options still runs the master's scenario. A worker can report ready to the master before
its locustfile has registered the plan handler, and Locust drops a message nobody handles; so once the
handler is registered the worker sends ``ingestbench_hello`` and the master sends its plan again (a plan
with the same start time only re-shards, so a duplicate is harmless). From then on a reporter greenlet ships the
completed seconds of the :class:`~loadgen.meter.Meter` to the master as ``ingestbench_stats`` every
``REPORT_INTERVAL_S``. Users (:mod:`loadgen.users`) read the pacer, encoded events and target from here.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

import gevent

from loadgen.encoded import EncodedEvents
from loadgen.events import EventFactory
from loadgen.meter import Meter, host_cpu_times
from loadgen.pacer import Pacer
from loadgen.registry import TargetRegistry
from loadgen.schedule import RateSchedule, Segment
from records.load import LoadConfig
from targets.contract import Writer

log = logging.getLogger("ingestbench.loadgen")

PLAN_MESSAGE = "ingestbench_plan"
STATS_MESSAGE = "ingestbench_stats"
HELLO_MESSAGE = "ingestbench_hello"  # worker -> master: my plan handler is registered (resend my plan)
REPORT_INTERVAL_S = 0.5
GC_GEN0_THRESHOLD = 50_000
GC_EVERY_S = 5.0  # a full collection this often, since the raised threshold is almost never reached


def schedule_for(load: LoadConfig, time_scale: float) -> RateSchedule:
    """The ``[load]`` steps as a schedule, durations multiplied by ``time_scale``."""
    segments = tuple(Segment(s.rate_eps, s.rate_eps if s.end_rate_eps is None else s.end_rate_eps,
                             s.duration_s) for s in load.steps)
    return RateSchedule(segments).scaled(time_scale)


def plan_message(*, t0_unix_s: float, index: int, count: int, join: bool, load: LoadConfig,
                 time_scale: float, target: str, target_options: dict[str, str]) -> dict[str, Any]:
    return {"t0_unix_s": t0_unix_s, "index": index, "count": count, "join": join, "load": load.to_dict(),
            "time_scale": time_scale, "target": target, "target_options": target_options}


class WorkerSide:
    """Pacing state of one generator process; ``send_message`` is the runner's."""

    def __init__(self, *, host: str, send_message: Callable[[str, dict[str, Any]], None],
                 registry: TargetRegistry,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 cpu_clock: Callable[[], float] = time.process_time,
                 host_cpu: Callable[[], tuple[float, float] | None] = host_cpu_times, tune_gc: bool = True):
        self.host = host
        self.send_message = send_message
        self.registry = registry
        self.clock = clock
        self.wall = wall
        self.cpu_clock = cpu_clock
        self.host_cpu = host_cpu
        self.tune_gc = tune_gc
        self.pacer: Pacer | None = None
        self.meter: Meter | None = None
        self.events: EncodedEvents | None = None
        self.target: Writer | None = None
        self.t0_s = 0.0
        self.t0_unix_ms = 0.0
        self.end_s = 0.0
        self._reporter: gevent.Greenlet | None = None
        self._t0_unix_s: float | None = None

    def on_plan(self, data: dict[str, Any]) -> None:
        """Start pacing (first plan) or take a new share (later plans, when workers join or leave)."""
        if self.pacer is not None and data["t0_unix_s"] == self._t0_unix_s:
            self.pacer.reshard(int(data["index"]), int(data["count"]))
            log.info("share now %d of %d", data["index"], data["count"])
            return
        self.stop()  # a new run (web UI restart): report what is left of the old one, then start over
        self._t0_unix_s = data["t0_unix_s"]
        load = LoadConfig.from_dict(data["load"])
        schedule = schedule_for(load, float(data["time_scale"]))
        self.target = self.registry.create(str(data["target"]), self.host, data.get("target_options") or {})
        factory = EventFactory(seed=load.seed * 1_000_003 + int(data["index"]), casing=load.casing,
                               property_count=load.property_count, payload_bytes=load.payload_bytes,
                               nested=load.nested, anonymous_ratio=load.anonymous_ratio)
        self.events = EncodedEvents(factory, self.target)
        now, wall = self.clock(), self.wall()
        self.t0_s = now - (wall - float(data["t0_unix_s"]))
        self.t0_unix_ms = float(data["t0_unix_s"]) * 1000.0
        self.end_s = self.t0_s + schedule.duration_s
        self.meter = Meter(schedule, t0_s=self.t0_s)
        self.meter.note_cpu(now, self.cpu_clock(), self.host_cpu())
        pacer = Pacer(schedule, batch_size=load.batch_size, max_behind_s=load.max_behind_s,
                      tick_s=load.send_tick_s)
        pacer.start(self.t0_s, index=int(data["index"]), count=int(data["count"]),
                    from_s=now if data.get("join") else None)
        self.pacer = pacer
        if self.tune_gc:
            # Batches allocate hundreds of dicts per request; without this, frequent collections keep
            # rescanning the long-lived template pool and Locust's own objects (~15 % of batch-mode CPU).
            gc.freeze()
            gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])
        self._reporter = gevent.spawn(self._report_loop)
        log.info("pacing as share %d of %d, start in %.2f s", data["index"], data["count"], self.t0_s - now)

    def unix_ms(self, t_s: float) -> int:
        """Wall-clock ms of a time on the monotonic clock (for event timestamps)."""
        return int(self.t0_unix_ms + (t_s - self.t0_s) * 1000.0)

    def report(self, *, final: bool = False) -> None:
        if self.meter is None:
            return
        now = self.clock()
        self.meter.note_cpu(now, self.cpu_clock(), self.host_cpu())
        bins, upto = self.meter.drain(now, final=final)
        self.send_message(STATS_MESSAGE, {"bins": bins, "upto_s": upto})

    def _report_loop(self) -> None:
        last_gc = self.clock()
        while True:
            gevent.sleep(REPORT_INTERVAL_S)
            if self.clock() > self.end_s + 1.0:
                self.report(final=True)
            else:
                self.report()
            if self.tune_gc and self.clock() - last_gc >= GC_EVERY_S:
                # Each second's lag histograms (HdrHistogram and its encoder point at each other) are
                # reference cycles, ~60 KiB a second; per-request objects are freed by reference counting, so
                # the raised threshold took ~30 min to trigger a collection: the generator grew 3.8 MiB a
                # minute. Everything long-lived is frozen, so a full collection takes about a millisecond.
                gc.collect()
                last_gc = self.clock()

    def stop(self) -> None:
        """On test stop: send what is left, stop reporting."""
        if self._reporter is not None:
            self._reporter.kill(block=False)
            self._reporter = None
            self.report(final=True)

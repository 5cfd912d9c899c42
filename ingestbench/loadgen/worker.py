"""The generator side of a Locust process (local runner or worker): plan in, pacing state, reports out.

The master sends an ``ingestbench_plan`` message (start time on the wall clock, this worker's share, the
``[load]`` table, time scale, target kind and options): the plan is the single source of truth, so a ``--worker``
started with other options still runs the master's scenario. A worker can report ready to the master before
its locustfile has registered the plan handler, and Locust drops a message nobody handles; so once the
handler is registered the worker sends ``ingestbench_hello`` and the master sends its plan again (a plan
with the same start time only re-shards, so a duplicate is harmless). From then on a reporter greenlet ships the
completed seconds of the :class:`~ingestbench.loadgen.meter.Meter` to the master as ``ingestbench_stats`` every
``REPORT_INTERVAL_S``. Users (:mod:`ingestbench.loadgen.users`) read the pacer, encoded events and target from here.

A plan carries the worker's history of shares (:mod:`ingestbench.loadgen.pacer`: which requests are its own, from which
request on) and a revision number, so a plan overtaken by a newer one is ignored. A worker that is asked to
quit mid-run (SIGTERM) does not just vanish with its share half sent: :meth:`WorkerSide.leave` picks a switch
request ``LEAVE_LEAD_S`` ahead, tells the master (``ingestbench_leave``, which gives that request on to the
other workers), sends its own requests up to it, waits for their responses, and sends its last report
before Locust says goodbye to the master.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

import gevent

from ingestbench.loadgen.encoded import EncodedEvents
from ingestbench.loadgen.events import EventFactory
from ingestbench.loadgen.meter import Meter, host_cpu_times
from ingestbench.loadgen.pacer import Dropped, Pacer
from ingestbench.loadgen.registry import TargetRegistry
from ingestbench.loadgen.schedule import RateSchedule, Segment
from ingestbench.loadgen.shares import NONE, normalized_shares, switched
from ingestbench.records.load import LoadConfig
from ingestbench.targets.contract import Writer

log = logging.getLogger("ingestbench.loadgen")

PLAN_MESSAGE = "ingestbench_plan"
STATS_MESSAGE = "ingestbench_stats"
HELLO_MESSAGE = "ingestbench_hello"  # worker -> master: my plan handler is registered (resend my plan)
LEAVE_MESSAGE = "ingestbench_leave"  # worker -> master: I quit; others own my requests from switch_seq on
LEAVE_LEAD_S = 0.5  # the switch request of a leaving worker is due this far ahead (the master passes it on)
LEAVE_WAIT_S = 2.0  # then wait at most this long for its own requests before it to be sent and answered
# (lead + wait stay well inside the 5 s a run's process group gets between SIGTERM and SIGKILL)
REPORT_INTERVAL_S = 0.5
# A timer this short runs all along the schedule; how much it oversleeps is how long the process stood still
# (:meth:`ingestbench.loadgen.meter.Meter.note_pause`). 50 wake-ups a second cost well under 1 % of a core.
PAUSE_TICK_S = 0.02
GC_GEN0_THRESHOLD = 50_000
GC_EVERY_S = 5.0  # a full collection this often, since the raised threshold is almost never reached


def schedule_for(load: LoadConfig, time_scale: float) -> RateSchedule:
    """The ``[load]`` steps as a schedule, durations multiplied by ``time_scale``."""
    segments = tuple(Segment(s.rate_eps, s.rate_eps if s.end_rate_eps is None else s.end_rate_eps,
                             s.duration_s, s.ramp if s.end_rate_eps is not None else "linear") for s in load.steps)
    return RateSchedule(segments).scaled(time_scale)


def plan_message(*, t0_unix_s: float, index: int, count: int, join: bool, load: LoadConfig,
                 time_scale: float, target: str, target_options: dict[str, str],
                 shares: list[list[int]] | None = None, rev: int = 0, host: str | None = None) -> dict[str, Any]:
    """``shares``: the worker's history ``[[from_seq, index, count], ...]`` (None: ``index`` of ``count`` from
    the start, or for a joiner from when the plan arrives); ``rev`` orders the master's plans; ``host``: the
    target's base URL (None: the worker's own ``--host``)."""
    msg = {"t0_unix_s": t0_unix_s, "index": index, "count": count, "join": join, "load": load.to_dict(),
           "time_scale": time_scale, "target": target, "target_options": target_options, "rev": rev}
    if host:
        msg["host"] = host
    if shares is not None:
        msg["shares"] = shares
    return msg


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
        self._pause_watch: gevent.Greenlet | None = None
        self._t0_unix_s: float | None = None
        self._rev = 0
        self._leave_seq: int | None = None  # leaving: none of the requests from this one on are ours

    def on_plan(self, data: dict[str, Any]) -> None:
        """Start pacing (first plan) or take a new share (later plans, when workers join or leave)."""
        if self.pacer is not None and data["t0_unix_s"] == self._t0_unix_s:
            rev = int(data.get("rev", 0))
            if rev < self._rev:
                return  # overtaken by a newer plan
            self._rev = rev
            now = self.clock()
            if "shares" in data:
                self._note_dropped(self.pacer.set_shares(self._own_shares(data["shares"]), now_s=now), now)
            else:
                self._note_dropped(self.pacer.reshard(int(data["index"]), int(data["count"]), now_s=now), now)
            log.info("share now %d of %d from request %d", data["index"], data["count"], self.pacer.shares[-1][0])
            return
        self.stop()  # a new run (web UI restart): report what is left of the old one, then start over
        self._t0_unix_s = data["t0_unix_s"]
        self._rev = int(data.get("rev", 0))
        self._leave_seq = None
        load = LoadConfig.from_dict(data["load"])
        schedule = schedule_for(load, float(data["time_scale"]))
        self.host = str(data.get("host") or self.host)
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
                    from_s=now if data.get("join") else None,
                    shares=self._own_shares(data["shares"]) if "shares" in data else None)
        self.pacer = pacer
        if self.tune_gc:
            # Batches allocate hundreds of dicts per request; without this, frequent collections keep
            # rescanning the long-lived template pool and Locust's own objects (~15 % of batch-mode CPU).
            gc.freeze()
            gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])
        self._reporter = gevent.spawn(self._report_loop)
        self._pause_watch = gevent.spawn(self._watch_pauses)
        first = next((s[0] for s in pacer.shares if s[1] != NONE), 0)
        log.info("pacing as share %d of %d, start in %.2f s, from request %d", data["index"], data["count"],
                 self.t0_s - now, first)

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

    def _watch_pauses(self) -> None:
        while self.meter is not None:
            before = self.clock()
            gevent.sleep(PAUSE_TICK_S)
            after = self.clock()
            if after - before > 2 * PAUSE_TICK_S and self.meter is not None:
                self.meter.note_pause(after, after - before - PAUSE_TICK_S)

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

    def leave(self, *, lead_s: float = LEAVE_LEAD_S, wait_s: float = LEAVE_WAIT_S) -> None:
        """This process quits mid-run: hand its share over at a switch request ``lead_s`` ahead (see the
        module docstring); returns once its requests before that were answered (or ``wait_s`` after the
        switch), having sent its last report. Requests of its own it could not send count as dropped."""
        pacer, meter = self.pacer, self.meter
        if pacer is None or meter is None or self._reporter is None or self._leave_seq is not None:
            return
        now = self.clock()
        at_s = now + lead_s - self.t0_s
        seq = pacer.request_at(at_s)
        self._leave_seq = seq
        self._note_dropped(pacer.reshard(NONE, 1, at_seq=seq, now_s=now), now)
        self.send_message(LEAVE_MESSAGE, {"t0_unix_s": self._t0_unix_s, "switch_seq": seq, "switch_s": at_s})
        log.info("leaving: others own the requests from %d (t=%.2f s) on", seq, at_s)
        deadline = now + lead_s + wait_s
        while self.clock() < deadline and not (pacer.idle() and meter.inflight <= 0):
            gevent.sleep(0.02)
        self.stop()

    def stop(self) -> None:
        """On test stop: send what is left, stop reporting."""
        if self._pause_watch is not None:
            self._pause_watch.kill(block=False)
            self._pause_watch = None
        if self._reporter is not None:
            self._reporter.kill(block=False)
            self._reporter = None
            if self._leave_seq is not None and self.pacer is not None:
                self._note_dropped(self.pacer.abandon(), self.clock())
            self.report(final=True)

    def _own_shares(self, shares: list[list[int]]) -> list[tuple[int, int, int]]:
        """The master's history of this worker's shares; once leaving, none from the switch request on."""
        own = normalized_shares(shares)
        return own if self._leave_seq is None else switched(own, self._leave_seq, NONE, 1)

    def _note_dropped(self, dropped: Dropped | None, now: float) -> None:
        if dropped is not None and self.meter is not None:
            self.meter.record_dropped(now, events=dropped.events)

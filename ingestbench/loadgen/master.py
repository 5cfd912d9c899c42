"""The coordinating side of a Locust run (local runner or master): start, split, aggregate, judge, stop.

On the first shape tick it picks the start time (``lead_s`` ahead, so users can spawn), sends each generator
its plan, and then every ``LOOP_INTERVAL_S`` re-splits the rate when generators join or leave and writes the
seconds that are complete to the rate timeline.

A re-split takes effect at a *switch request* (:mod:`ingestbench.loadgen.pacer`), the same for every generator, so that
no request is sent twice or by nobody: a joining worker gets a share once it said hello (its plan handler is
registered, so its plan is not dropped), from the request due ``JOIN_LEAD_S`` ahead; a worker that quits
mid-run says so first (``ingestbench_leave``, :meth:`ingestbench.loadgen.worker.WorkerSide.leave`) with the request from
which the others take over, and stays in the timeline until its last report. A worker that vanishes without
a word (killed, crashed, cut off) is split away from the current time on: what it had not sent by then is
lost, and so is the run's validity: the generator is named as lost and the run's exit code is 3.

When the schedule (plus a short tail for the last reports) is over, :meth:`MasterSide.tick` returns None so
Locust stops; :meth:`MasterSide.finish` writes the step checks and, if any step is invalid, logs it loudly
and sets the process exit code to 3.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import gevent

from ingestbench.loadgen.merger import RateMerger, TimelineSink
from ingestbench.loadgen.shares import NONE, request_at
from ingestbench.loadgen.sizing import grow_on_lag, saturated, users_needed
from ingestbench.loadgen.step_check import StepCheck
from ingestbench.loadgen.worker import plan_message, schedule_for
from ingestbench.records.exit_codes import ExitCode
from ingestbench.records.load import LoadConfig

log = logging.getLogger("ingestbench.loadgen")

LOOP_INTERVAL_S = 0.25
TAIL_S = 2.0  # after the schedule: wait for the generators' last reports
LOOKAHEAD_S = 3.0  # size the user pool for the highest rate this far ahead
JOIN_LEAD_S = 1.0  # a joining worker's share starts with the request due this far ahead


class MasterSide:
    """Runs the schedule for all generators; ``workers()`` lists their ids, ``send_plan(id, data)`` reaches one."""

    def __init__(self, *, name: str, load: LoadConfig, time_scale: float, target: str,
                 target_options: dict[str, str] | None = None, sinks: Sequence[TimelineSink],
                 workers: Callable[[], list[str]], send_plan: Callable[[str, dict[str, Any]], None],
                 set_exit_code: Callable[[int], None], lead_s: float = 1.0,
                 wall: Callable[[], float] = time.time,
                 on_start: Callable[[float, float], None] | None = None,
                 on_sharing: Callable[[int, int], None] | None = None, target_url: str | None = None):
        self.name = name
        self.load = load
        self.time_scale = time_scale
        self.target = target
        self.target_options = dict(target_options or {})
        self.schedule = schedule_for(load, time_scale)
        self.sinks = list(sinks)
        self.workers = workers
        self.send_plan = send_plan
        self.set_exit_code = set_exit_code
        self.lead_s = lead_s
        self.wall = wall
        self.on_start = on_start  # (t0_unix_s, duration_s) of each schedule started
        self.on_sharing = on_sharing  # (generators sharing the load, generators lost since the last change)
        self.target_url = target_url  # sent to every worker: one on another machine has no plan of its own
        self.timeline: RateMerger | None = None
        self.step_checks: list[StepCheck] | None = None
        self.t0_unix_s = 0.0
        self.users = 0
        self._changed_at_s = -math.inf  # schedule offset of the last change of the user count
        self._sizing_latency_s: float | None = None
        self._shares: list[str] = []
        self._history: list[tuple[int, list[str]]] = []  # (switch request, generators in share order)
        self._rev = 0  # plans are numbered, so a worker ignores one overtaken by a newer one
        self._hello: set[str] = set()  # workers whose plan handler is registered
        self._leaving: set[str] = set()  # said they quit: no share, but the timeline waits for their reports
        self._timeline_ids: list[str] | None = None
        self._loop: gevent.Greenlet | None = None

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        load = self.load
        self.t0_unix_s = self.wall() + self.lead_s
        self.timeline = RateMerger(self.schedule, t0_unix_s=self.t0_unix_s, sinks=self.sinks,
                                 lag_bound_s=load.lag_bound_s, min_achieved_ratio=load.min_achieved_ratio,
                                 max_stall_share=load.max_stall_share, max_behind_s=load.max_behind_s,
                                 batch_size=load.batch_size, regimes=load.regimes())
        self._reshard(first=True)
        self._loop = gevent.spawn(self._run_loop)
        if self.on_start is not None:
            self.on_start(self.t0_unix_s, self.schedule.duration_s)
        log.info("schedule %s: %d step(s), %.1f s, time scale %g, starts in %.1f s", self.name,
                 len(self.schedule.segments), self.schedule.duration_s, self.time_scale, self.lead_s)

    def tick(self) -> tuple[int, float] | None:
        """The shape's answer: (users, spawn rate) while running, None once the schedule is over."""
        self.reset()  # only acts after a finished run: the web UI started a new one
        if self.timeline is None:
            self.start()
        offset = self.wall() - self.t0_unix_s
        if offset > self.schedule.duration_s + TAIL_S:
            self.finish()
            return None
        load = self.load
        processes = max(1, len(self._shares))
        rate = self.schedule.max_rate_between(max(offset, 0.0), max(offset, 0.0) + LOOKAHEAD_S)
        tl = self.timeline
        assert tl is not None
        # Latency measured while a generator or its machine has no CPU to spare is queueing that more users
        # would only lengthen (each brings a connection): size on the last latency measured without it.
        if not saturated(tl.recent_cpu, tl.recent_host_cpu) or self._sizing_latency_s is None:
            self._sizing_latency_s = tl.recent_latency_s
        need = users_needed(rate_eps=rate, batch_size=load.batch_size, latency_s=self._sizing_latency_s,
                            processes=processes, hold_s=load.send_tick_s,
                            max_per_process=load.max_users_per_process)
        # Judge lag only on a second that began after the last change had a second to take effect (spawning
        # and connecting new users), so that one episode of lag does not grow the pool again and again.
        settled = tl.next_second - 1 >= self._changed_at_s + 1.0
        grown = grow_on_lag(self.users, lag_p99_s=tl.recent_lag_p99_s if settled else None,
                            lag_bound_s=load.lag_bound_s, processes=processes, busy=tl.recent_busy,
                            max_per_process=load.max_users_per_process, cpu=tl.recent_cpu,
                            host_cpu=tl.recent_host_cpu)
        users = max(self.users, need, grown)
        if users != self.users:
            self._changed_at_s = offset
        self.users = users
        return self.users, float(max(100, self.users))

    def reset(self) -> None:
        """Forget a finished run so the next start (web UI: press start again) runs the schedule anew."""
        if self.step_checks is not None:
            self.timeline, self.step_checks, self.users, self._shares = None, None, 0, []
            self._history, self._leaving, self._timeline_ids = [], set(), None
            self._changed_at_s = -math.inf
            self._sizing_latency_s = None

    def on_hello(self, worker_id: str) -> None:
        """A worker's plan handler is now registered: send its plan again if it already has a share (the
        first one may have arrived before the handler and been dropped); otherwise it may now join."""
        self._hello.add(worker_id)
        if self.timeline is None or self.step_checks is not None or worker_id not in self._shares:
            return  # no run yet, or not yet a share: the next re-shard sends the plan
        self.send_plan(worker_id, self._plan(worker_id, join=True))
        log.info("generator %s ready: plan sent again", worker_id)

    def on_leave(self, worker_id: str, data: dict[str, Any]) -> None:
        """A worker quits: the others own its requests from its switch request on."""
        if (self.timeline is None or self.step_checks is not None or data.get("t0_unix_s") != self.t0_unix_s
                or worker_id not in self._shares):
            return
        self._leaving.add(worker_id)
        at = int(data["switch_seq"])
        self._switch(at, [w for w in self._shares if w != worker_id], joined=set())
        log.warning("generators changed: rate now split %d ways (%s leaves; from request %d, t=%.2f s)",
                    len(self._shares), worker_id, at, float(data.get("switch_s", 0.0)))
        self._sync_timeline()

    def on_stats(self, worker_id: str, data: dict[str, Any]) -> None:
        if self.timeline is not None:
            self.timeline.add(worker_id, data["bins"], int(data["upto_s"]))

    def finish(self) -> list[StepCheck]:
        """Write step checks once; log and flag invalid steps (exit code 3)."""
        if self.step_checks is not None:
            return self.step_checks
        if self._loop is not None:
            self._loop.kill(block=False)
        if self.timeline is None:
            self.step_checks = []
            return self.step_checks
        self.step_checks = self.timeline.finish(self.wall() - self.t0_unix_s)
        bad = [v for v in self.step_checks if not v.valid]
        for v in self.step_checks:
            if v.valid:
                log.info("step %d valid: %s", v.step, v.reason)
            else:
                log.error("INVALID step %d: target %.1f events/s, achieved %.1f events/s: %s",
                          v.step, v.target_eps, v.achieved_eps, v.reason)
        if bad:
            log.error("RUN INVALID: %d of %d step(s) did not deliver the asked-for rate; exit code %d",
                      len(bad), len(self.step_checks), int(ExitCode.INVALID))
            self.set_exit_code(int(ExitCode.INVALID))
        lost = self.timeline.generators.lost_ids()
        if lost:
            log.error("RUN INVALID: generator(s) lost mid-run: %s; exit code %d", ", ".join(lost),
                      int(ExitCode.INVALID))
            self.set_exit_code(int(ExitCode.INVALID))
        return self.step_checks

    # --- internals ------------------------------------------------------------------------------
    def _reshard(self, *, first: bool = False) -> None:
        connected = sorted(self.workers())
        self._leaving &= set(connected)  # a leaver that is gone is forgotten
        if first:
            self._switch(0, [w for w in connected if w not in self._leaving], joined=set())
            if self.on_sharing is not None:
                self.on_sharing(len(self._shares), 0)
        else:
            offset = self.wall() - self.t0_unix_s
            kept = [w for w in self._shares if w in connected]
            joiners = [w for w in connected
                       if w not in self._shares and w not in self._leaving and w in self._hello]
            if len(kept) < len(self._shares):  # gone without a word: what it had not sent is lost
                gone = [w for w in self._shares if w not in connected]
                assert self.timeline is not None
                for w in gone:
                    self.timeline.generators.lost(w, offset)
                at = request_at(self.schedule, self.load.batch_size, offset)
                self._switch(at, kept, joined=set())  # joiners wait for the next loop
                log.error("generator %s LOST at t=%.1f s (it vanished without handing its share over): the run is "
                          "invalid; rate now split %d ways from request %d", ", ".join(gone), offset, len(kept), at)
                if self.on_sharing is not None:
                    self.on_sharing(len(kept), len(gone))
            elif joiners:
                at = request_at(self.schedule, self.load.batch_size, offset + JOIN_LEAD_S)
                self._switch(at, sorted(kept + joiners), joined=set(joiners))
                log.warning("generators changed: rate now split %d ways (%s joins; from request %d, t=%.2f s)",
                            len(self._shares), ", ".join(joiners), at, offset + JOIN_LEAD_S)
                if self.on_sharing is not None:
                    self.on_sharing(len(self._shares), 0)
        self._sync_timeline()

    def _switch(self, at: int, ids: list[str], *, joined: set[str]) -> None:
        """``ids`` share the requests from ``at`` on; send each its plan."""
        self._history = [(f, s) for f, s in self._history if f < at] + [(max(0, at), list(ids))]
        self._shares = list(ids)
        self._rev += 1
        plans = [(wid, self._plan(wid, join=wid in joined)) for wid in ids]  # all built before any is sent
        for wid, plan in plans:
            self.send_plan(wid, plan)

    def _plan(self, worker_id: str, *, join: bool) -> dict[str, Any]:
        shares = [[f, ids.index(worker_id), len(ids)] if worker_id in ids else [f, NONE, 1]
                  for f, ids in self._history]
        return plan_message(
            t0_unix_s=self.t0_unix_s, index=self._shares.index(worker_id), count=len(self._shares), join=join,
            load=self.load, time_scale=self.time_scale, target=self.target, target_options=self.target_options,
            shares=shares, rev=self._rev, host=self.target_url)

    def _sync_timeline(self) -> None:
        """The timeline waits for the reports of the generators with a share and of those leaving."""
        ids = sorted(set(self._shares) | self._leaving)
        if self.timeline is not None and ids != self._timeline_ids:
            self.timeline.set_workers(ids)
            self._timeline_ids = ids

    def _run_loop(self) -> None:
        while True:
            try:
                self._reshard()
                if self.timeline is not None:
                    self.timeline.flush(self.wall() - self.t0_unix_s)
            except Exception:  # keep pacing the run; the error is in the log
                log.exception("loadgen master loop")
            gevent.sleep(LOOP_INTERVAL_S)

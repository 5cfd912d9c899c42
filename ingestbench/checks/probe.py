"""The probe: canary writer, reader, transactional check, recording and metrics, wired together.

The probe records facts. Every decided observation goes straight to ``samples.jsonl`` (and to the
``on_observation`` callback); which tier it counts for is decided once, by the judge, from the complete rate
timeline. The probe itself keeps only bounded state, however long it runs: the canaries still pending,
counts by outcome and the few most frequent ingest errors (the file holds the rest).

The live tiering here only labels the Prometheus metrics: with a live rate timeline an observation waits (at
most ``tier_hold_s``) until the timeline covers its send time, so a canary sent just after a rate step is not
labelled with the previous step's tier.

Every canary is decided: after ``stop`` the writers stop and the probe drains, polling until every pending
canary is seen or past its loss horizon (the longest of its path's tiers, from the SLO). Only ``abort`` (or a
``drain_s`` cap) cuts the drain short; the canaries still pending are then recorded as ``undecided``, which
makes the run invalid.

::

    async with aiohttp.ClientSession() as session:
        probe = Probe(writer=target, reader=target, profiles=target, session=session, events=EventFactory(seed=1),
                      tiering=Tiering(slo, declared_rate_eps=10))
        report = await probe.run(duration_s=60)
    judge_run(read_sample_columns(out / "samples.jsonl"), slo=slo, rates=RateSource(declared_rate_eps=10))
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from ingestbench.checks.acks import AckLedger, AckSummary
from ingestbench.checks.analytical import CanaryReader, CanaryWriter
from ingestbench.checks.canary import CanaryFactory, EventSource
from ingestbench.checks.clock import Clock, SystemClock, sleep_or_stop
from ingestbench.checks.comparator import Comparator
from ingestbench.checks.metrics import ProbeMetrics
from ingestbench.checks.rate_tiering import Tiering
from ingestbench.checks.rates import PromRate
from ingestbench.checks.recorder import SamplesWriter
from ingestbench.checks.transactional import TransactionalProbe
from ingestbench.records.observation import ANALYTICAL, TRANSACTIONAL, UNDECIDED, Observation
from ingestbench.records.timeline import TimelineTail
from ingestbench.targets.contract import ProfileStore, Reader, Writer

_NS_PER_S = 1_000_000_000
MAX_ERRORS = 10
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeSettings:
    interval_s: float = 1.0
    poll_interval_s: float = 0.25
    poll_jitter: float = 0.5  # each poll starts interval x (1 +- jitter) after the previous one
    batch_size: int = 1  # events per canary request: the canary rides in a batch of ordinary events when > 1
    late_watch_s: float | None = None  # None: as long as the loss horizon
    transactional: bool = True
    transactional_interval_s: float | None = None  # None: interval_s
    profile_retry_s: float = 0.05
    jitter: float = 0.2
    timeout_s: float = 5.0
    drain_s: float | None = None  # None: until every canary is decided; a number caps the drain
    tier_hold_s: float = 5.0
    rate_sample_s: float = 1.0


@dataclass(frozen=True)
class ProbeReport:
    outcomes: dict[str, int]  # decided canaries by outcome
    errors: dict[str, int]  # ingest errors by message (the most frequent ones, a bounded few)
    sent: int
    transactional_sent: int
    undecided: int
    polls: int
    poll_failures: int
    duration_s: float
    drain_s: float
    poll_interval_s: float | None = None  # None: nothing was polled (no reader)
    acks: AckSummary | None = None  # a writer-only probe: the canaries' acknowledgements, the only measure
    poll_failure_episodes: tuple[tuple[int | str, ...], ...] = ()  # (first_unix_ms, last_unix_ms, count, error)


class Probe:
    def __init__(self, *, writer: Writer, reader: Reader | None, session: aiohttp.ClientSession, tiering: Tiering,
                 profiles: ProfileStore | None = None,
                 settings: ProbeSettings | None = None, clock: Clock | None = None,
                 recorder: SamplesWriter | None = None, metrics: ProbeMetrics | None = None,
                 events: EventSource, timeline: TimelineTail | None = None,
                 rate_query: PromRate | None = None, on_observation: Callable[[Observation], None] | None = None,
                 seed: int | None = None):
        self.settings = s = settings or ProbeSettings()
        self.tiering = tiering
        self._clock = clock or SystemClock()
        self._recorder, self._metrics = recorder, metrics
        self._timeline, self._rate_query = timeline, rate_query
        self._on_observation = on_observation
        rng = random.Random(seed)
        slo = tiering.slo
        self.analytical = Comparator(path=ANALYTICAL, lost_after_s=slo.probe_horizon_s(ANALYTICAL),
                                     late_watch_s=s.late_watch_s, stationary_polls=True)
        self.transactional = Comparator(path=TRANSACTIONAL, lost_after_s=slo.probe_horizon_s(TRANSACTIONAL),
                                        late_watch_s=0.0)
        self.outcomes: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._held: list[tuple[int, Observation]] = []
        floor_s = reader.limits.min_poll_interval_s if reader is not None else 0.0
        self.poll_interval_s = max(s.poll_interval_s, floor_s)
        if reader is not None and self.poll_interval_s > s.poll_interval_s:
            log.warning("polling every %.3g s, not %.3g s: %s allows no more than one query per %.3g s, so TTAs "
                        "are resolved that coarsely", self.poll_interval_s, s.poll_interval_s, reader.name,
                        floor_s)
        # with no reader the canaries are only sent and acknowledged: their acks are the measure
        self.acks = AckLedger() if reader is None else None
        self.writer = CanaryWriter(target=writer, session=session, comparator=self.acks or self.analytical,
                                   canaries=CanaryFactory(events, seed=rng.getrandbits(32)),
                                   clock=self._clock, sink=self._decided, interval_s=s.interval_s,
                                   jitter=s.jitter, timeout_s=s.timeout_s, rng=rng, batch_size=s.batch_size)
        self.reader = None if reader is None else CanaryReader(
            target=reader, session=session, comparator=self.analytical, clock=self._clock, sink=self._decided,
            metrics=metrics, poll_interval_s=self.poll_interval_s, poll_jitter=s.poll_jitter, timeout_s=s.timeout_s,
            on_tick=self._tick, rng=random.Random(rng.getrandbits(32)))
        self.tx: TransactionalProbe | None = None
        if s.transactional and profiles is not None:
            self.tx = TransactionalProbe(target=profiles, session=session,
                                         comparator=self.transactional, clock=self._clock, sink=self._decided,
                                         metrics=metrics, interval_s=s.transactional_interval_s or s.interval_s,
                                         retry_s=s.profile_retry_s, timeout_s=s.timeout_s, rng=rng)

    async def run(self, *, stop: asyncio.Event | None = None, duration_s: float | None = None,
                  abort: asyncio.Event | None = None) -> ProbeReport:
        """Probe until ``stop`` is set or ``duration_s`` passed, then drain until every canary is decided (or
        ``drain_s`` passed, or ``abort`` is set: what is still pending is then recorded as undecided)."""
        stop = stop or asyncio.Event()
        abort = abort or asyncio.Event()
        start_ns = self._clock.monotonic_ns()
        stop_writing, stop_reading = asyncio.Event(), asyncio.Event()
        writers = [asyncio.create_task(self.writer.run(stop_writing))]
        if self.tx is not None:
            writers.append(asyncio.create_task(self.tx.run(stop_writing, abort)))
        tasks = [*writers]
        if self.reader is not None:
            tasks.append(asyncio.create_task(self.reader.run(stop_reading)))
        if self._rate_query is not None:
            tasks.append(asyncio.create_task(self._sample_rates(stop_reading)))
        drain_started_ns = None
        try:
            await sleep_or_stop(stop, duration_s if duration_s is not None else float("inf"))
            stop_writing.set()
            drain_started_ns = self._clock.monotonic_ns()
            cap_ns = math.inf if self.settings.drain_s is None else self.settings.drain_s * _NS_PER_S
            while (self.analytical.pending_count or not all(w.done() for w in writers)) and not abort.is_set():
                if self._clock.monotonic_ns() - drain_started_ns >= cap_ns:
                    break
                await sleep_or_stop(abort, min(0.05, self.poll_interval_s))
        finally:
            stop_writing.set()
            stop_reading.set()
            cut_short = abort.is_set() or any(not w.done() for w in writers) or self.analytical.pending_count
            for task in tasks:
                if cut_short:
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)
        undecided = [*self.analytical.undecided(), *self.transactional.undecided()]
        for obs in undecided:
            self._decided(obs)
        self._release(force=True)
        end_ns = self._clock.monotonic_ns()
        return ProbeReport(
            outcomes=dict(self.outcomes), errors=dict(self.errors.most_common(MAX_ERRORS)), sent=self.writer.sent,
            transactional_sent=self.tx.sent if self.tx else 0, undecided=len(undecided),
            polls=self.reader.polls if self.reader else 0,
            poll_failures=self.reader.poll_failures if self.reader else 0, duration_s=(end_ns - start_ns) / _NS_PER_S,
            drain_s=(end_ns - (drain_started_ns or end_ns)) / _NS_PER_S,
            poll_interval_s=self.poll_interval_s if self.reader else None,
            acks=self.acks.summary() if self.acks else None,
            poll_failure_episodes=tuple(tuple(e) for e in self.reader.failure_episodes) if self.reader else (),
        )

    @property
    def pending(self) -> int:
        """Canaries sent and not yet decided (both paths)."""
        return self.analytical.pending_count + self.transactional.pending_count

    # --- decided observations -----------------------------------------------------------------
    def _decided(self, obs: Observation) -> None:
        """Facts first: recorded at once (a crash loses nothing decided); metrics wait for a live tier."""
        self.outcomes[obs.outcome] += 1
        if obs.error:
            self.errors[obs.error] += 1
            if len(self.errors) > 4 * MAX_ERRORS:  # keep the frequent ones: a bounded count of distinct messages
                self.errors = Counter(dict(self.errors.most_common(MAX_ERRORS)))
        if self._recorder is not None:
            self._recorder.write(obs)
        if self._on_observation is not None:
            self._on_observation(obs)
        if self._metrics is not None and obs.outcome != UNDECIDED:
            self._held.append((self._clock.monotonic_ns(), obs))
            self._release()

    def _tick(self) -> None:
        if self._timeline is not None:
            points = self._timeline.read_new().points
            if points:
                self.tiering.extend(points)
        self._release()

    def _release(self, force: bool = False) -> None:
        if self._metrics is None:
            return
        hold_ns = int(self.settings.tier_hold_s * _NS_PER_S)
        now_ns = self._clock.monotonic_ns()
        keep = []
        for held_ns, obs in self._held:
            if force or self.tiering.ready(obs.path, obs.sent_unix_ms) or now_ns - held_ns >= hold_ns:
                self._metrics.observe(obs, self.tiering.place(obs.path, obs.sent_unix_ms).tier)
            else:
                keep.append((held_ns, obs))
        self._held = keep

    async def _sample_rates(self, stop: asyncio.Event) -> None:
        assert self._rate_query is not None
        while not stop.is_set():
            point = await self._rate_query.sample()
            if point is not None:
                self.tiering.extend([point])
            await sleep_or_stop(stop, self.settings.rate_sample_s)

"""The analytical path: a CanaryWriter sends canaries, a CanaryReader looks all pending ones up in one
query (through the target's :class:`~ingestbench.targets.contract.Reader`).

Both report to one :class:`~ingestbench.checks.comparator.Comparator` and hand decided observations to ``sink``.
Network errors are data: a failed ingest is an ``errored`` observation, a failed poll is counted in the
metrics and simply does not narrow any TTA bound.

Send times are jittered (uniformly within +-``jitter`` of the interval), and so is the start of every poll
(within +-``poll_jitter`` of the poll interval, keeping its mean): a target that flushes on a timer of its
own would otherwise lock in phase with a strict poll grid and bias every TTA the same way.

A canary rides the load's path: with ``batch_size > 1`` it goes out inside a batch of ordinary events from
the same factory, through the same endpoint the load uses; ``batch_size = 1`` uses the single-event one.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Protocol

import aiohttp

from ingestbench.checks.canary import CanaryFactory
from ingestbench.checks.clock import Clock, sleep_or_stop
from ingestbench.checks.comparator import Comparator
from ingestbench.checks.http import describe, execute
from ingestbench.checks.metrics import ProbeMetrics
from ingestbench.records.observation import Observation
from ingestbench.targets.base import TargetError
from ingestbench.targets.contract import Reader as TargetReader
from ingestbench.targets.contract import TokenAuth, Writer

log = logging.getLogger(__name__)

Sink = Callable[[Observation], None]
_NS_PER_S = 1_000_000_000
FAILURE_GAP_MS = 2000


class Ledger(Protocol):
    """What the writer reports to: a :class:`~ingestbench.checks.comparator.Comparator`, or with no reader an
    :class:`~ingestbench.checks.acks.AckLedger`."""

    def sent(self, canary_id: str, *, sent_ns: int, sent_unix_ms: int) -> None: ...

    def acked(self, canary_id: str, *, acked_ns: int) -> None: ...

    def failed(self, canary_id: str, *, error: str) -> Observation | None: ...


class CanaryWriter:
    """Sends one canary every ``interval_s`` (jittered) until stopped; never retries (an error is data)."""

    def __init__(self, *, target: Writer, session: aiohttp.ClientSession, comparator: Ledger,
                 canaries: CanaryFactory, clock: Clock, sink: Sink, interval_s: float = 1.0,
                 jitter: float = 0.2, timeout_s: float = 5.0, rng: random.Random | None = None,
                 batch_size: int = 1):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._target, self._session, self._cmp = target, session, comparator
        self._canaries, self._clock, self._sink = canaries, clock, sink
        self.interval_s, self.jitter, self.timeout_s = interval_s, jitter, timeout_s
        self.batch_size = batch_size
        self._rng = rng or random.Random()
        self._inflight: set[asyncio.Task[None]] = set()
        self.sent = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            task = asyncio.create_task(self.send_one())
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            delay = self.interval_s * (1.0 + self.jitter * (2.0 * self._rng.random() - 1.0))
            await sleep_or_stop(stop, delay)
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def send_one(self) -> None:
        sent_unix_ms = self._clock.unix_ms()
        canary_id, events = self._canaries.make_batch(sent_unix_ms, self.batch_size, self._rng)
        sent_ns = self._clock.monotonic_ns()
        self._cmp.sent(canary_id, sent_ns=sent_ns, sent_unix_ms=sent_unix_ms)
        self.sent += 1
        try:
            req = self._target.ingest(events)  # a target refuses what breaks its documented limits
        except ValueError as exc:
            self._fail(canary_id, f"not sent: {exc}")
            return
        try:
            status, headers, body = await execute(self._session, req, self.timeout_s)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._fail(canary_id, describe(exc))
            return
        result = self._target.parse_ingest(status, headers, body)
        if result.ok:
            self._cmp.acked(canary_id, acked_ns=self._clock.monotonic_ns())
        else:
            detail = f": {' '.join(result.error.split())[:200]}" if result.error else ""
            self._fail(canary_id, f"{result.kind}: HTTP {result.status}{detail}")

    def _fail(self, canary_id: str, error: str) -> None:
        obs = self._cmp.failed(canary_id, error=error)
        if obs is not None:
            self._sink(obs)


class CanaryReader:
    """Polls the query side every ``poll_interval_s`` with one look-up for every pending canary."""

    def __init__(self, *, target: TargetReader, session: aiohttp.ClientSession, comparator: Comparator,
                 clock: Clock, sink: Sink, metrics: ProbeMetrics | None = None, poll_interval_s: float = 0.25,
                 poll_jitter: float = 0.5, timeout_s: float = 5.0, on_tick: Callable[[], None] | None = None,
                 rng: random.Random | None = None):
        if not 0 <= poll_jitter < 1:
            raise ValueError(f"poll_jitter must be in [0, 1), got {poll_jitter}")
        self._target, self._session, self._cmp = target, session, comparator
        self._clock, self._sink, self._metrics = clock, sink, metrics
        self.poll_interval_s, self.poll_jitter, self.timeout_s = poll_interval_s, poll_jitter, timeout_s
        self._rng = rng or random.Random()
        self._on_tick = on_tick
        self.polls = 0
        self.poll_failures = 0
        # [first_unix_ms, last_unix_ms, count, first error]: failed polls, those less than FAILURE_GAP_MS
        # apart in one episode, so that a report can say when the query side failed (bounded by episodes)
        self.failure_episodes: list[list[int | str]] = []

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every ``poll_interval_s`` on average (start to start, each gap jittered) until ``stop``."""
        next_ns = self._clock.monotonic_ns()
        while not stop.is_set():
            await self.poll_once()
            gap_s = self.poll_interval_s * (1.0 + self.poll_jitter * (2.0 * self._rng.random() - 1.0))
            next_ns = max(next_ns + int(gap_s * _NS_PER_S), self._clock.monotonic_ns())
            delay = (next_ns - self._clock.monotonic_ns()) / _NS_PER_S
            await sleep_or_stop(stop, delay)

    async def poll_once(self) -> None:
        """One look-up of every pending canary. Past the target's id cap per query (``limits.max_query_ids``,
        10,000 for the pipeline) the ids are split over as few queries as the cap allows."""
        ids = self._cmp.query_ids()
        cap = self._target.limits.max_query_ids
        for start in range(0, len(ids), cap):
            await self._look_up(ids[start:start + cap])
        if not ids:
            # Nothing to look up, but this tick is still a point of the poll grid: a canary sent after it
            # became visible after it. Without this, a canary sent after a stretch with nothing pending (all
            # seen, or all refused) would take the last real look-up, maybe seconds old, as its prior poll,
            # and its TTA estimate would fall far below zero.
            now_ns = self._clock.monotonic_ns()
            self._cmp.polled([], started_ns=now_ns, ended_ns=now_ns, found=[])
        for obs in self._cmp.expire(self._clock.monotonic_ns()):
            self._sink(obs)
        if self._metrics is not None:
            self._metrics.set_pending(self._cmp.path, self._cmp.pending_count)
        if self._on_tick is not None:
            self._on_tick()

    async def _authenticate(self) -> None:
        """Fetch a token first when the reader needs one and holds none (a failure fails this poll)."""
        target = self._target
        if isinstance(target, TokenAuth):
            req = target.token_request()
            if req is not None:
                status, _, body = await execute(self._session, req, self.timeout_s)
                target.take_token(status, body)

    async def _look_up(self, ids: list[str]) -> None:
        ok = False
        started_ns = self._clock.monotonic_ns()
        try:
            await self._authenticate()
            started_ns = self._clock.monotonic_ns()
            status, _, body = await execute(self._session, self._target.query_canaries(ids), self.timeout_s)
            if status == 401 and isinstance(self._target, TokenAuth):
                self._target.drop_token()  # expired: the next poll fetches a fresh one
            rows = self._target.parse_query(status, body)
            ok = True
        except (aiohttp.ClientError, TimeoutError, OSError, TargetError, ValueError) as exc:
            # the first failure is worth a line in the log (a misconfigured reader fails every poll)
            log.log(logging.WARNING if not self.poll_failures else logging.DEBUG, "poll failed: %s", describe(exc))
            self._note_failure(describe(exc))
        ended_ns = self._clock.monotonic_ns()
        self.polls += 1
        if self._metrics is not None:
            self._metrics.poll(self._cmp.path, (ended_ns - started_ns) / _NS_PER_S, ok)
        if ok:
            found = [r.canary_id for r in rows]
            for obs in self._cmp.polled(ids, started_ns=started_ns, ended_ns=ended_ns, found=found):
                self._sink(obs)
        else:
            self.poll_failures += 1

    def _note_failure(self, error: str) -> None:
        now_ms = self._clock.unix_ms()
        last = self.failure_episodes[-1] if self.failure_episodes else None
        if last is not None and now_ms - int(last[1]) <= FAILURE_GAP_MS:
            last[1], last[2] = now_ms, int(last[2]) + 1
        else:
            self.failure_episodes.append([now_ms, now_ms, 1, error])
